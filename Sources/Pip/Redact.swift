import Foundation

/// Hiding secrets in what pip work prints: credentials in URLs (`https://user:token@host/`) and query
/// strings (signed URLs), before a URL reaches a log line or an error.
public enum Redact {
    public static func url(_ text: String) -> String {
        var result = text
        if let scheme = result.range(of: "://") {
            let afterScheme = result[scheme.upperBound...]
            let hostEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
            if let at = afterScheme[..<hostEnd].lastIndex(of: "@") {
                result.replaceSubrange(scheme.upperBound...at, with: "***@")
            }
        }
        if let query = result.firstIndex(of: "?") {
            let fragment = result[query...].firstIndex(of: "#") ?? result.endIndex
            result.replaceSubrange(query..<fragment, with: "?***")
        }
        return result
    }
}
