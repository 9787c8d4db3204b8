import Foundation
import HTTP

/// Channel names and URLs: `conda-forge` → `<alias>/conda-forge`; `https://…` and `file:///…` as given;
/// an absolute path → `file://`. Private channels carry a token as `/t/<token>/`, which `Redaction` hides.
public enum ChannelURL {
    public static let defaultAlias = "https://conda.anaconda.org"

    /// The base URLs a channel name stands for (`defaults` is Anaconda's main and r channels).
    public static func resolve(_ name: String, alias: String = defaultAlias) -> [String] {
        var text = name.trimmingCharacters(in: .whitespaces)
        while text.hasSuffix("/") { text.removeLast() }
        if text == "defaults" { return ["https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r"] }
        if text.contains("://") { return [text] }
        if text.hasPrefix("/") { return ["file://" + text] }
        var base = alias
        while base.hasSuffix("/") { base.removeLast() }
        return [base + "/" + text]
    }

    /// The channel's short name, for conda's history lines (`conda-forge`) or the URL when local.
    public static func canonicalName(_ url: String, alias: String = defaultAlias) -> String {
        let plain = Redaction.text(url)
        if plain.hasPrefix(alias + "/") { return String(plain.dropFirst(alias.count + 1)) }
        return plain
    }

}
