import Foundation

/// Channel names and URLs: `conda-forge` → `<alias>/conda-forge`; `https://…` and `file:///…` as given;
/// an absolute path → `file://`. Private channels carry a token as `/t/<token>/`, which `redact` hides.
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
        let plain = redact(url)
        if plain.hasPrefix(alias + "/") { return String(plain.dropFirst(alias.count + 1)) }
        return plain
    }

    /// Hides `/t/<token>/` path segments and userinfo.
    public static func redact(_ text: String) -> String {
        var result = text
        var searchStart = result.startIndex
        while let range = result.range(of: "/t/", range: searchStart..<result.endIndex) {
            let end = result[range.upperBound...].firstIndex { $0 == "/" || $0 == " " || $0 == "'" || $0 == "\n" } ?? result.endIndex
            result.replaceSubrange(range.upperBound..<end, with: "<redacted>")
            searchStart = result.index(range.upperBound, offsetBy: "<redacted>".count, limitedBy: result.endIndex) ?? result.endIndex
        }
        if let scheme = result.range(of: "://"), let at = result[scheme.upperBound...].firstIndex(of: "@"),
           !result[scheme.upperBound..<at].contains("/") {
            result.replaceSubrange(scheme.upperBound..<result.index(after: at), with: "<redacted>@")
        }
        return result
    }
}
