/// Removes secrets from anything that may be printed: Authorization values, tokens, passwords in
/// URLs, and signed query strings (an upload `_state`, SAS `sig`, …).
public enum Redaction {
    public static let mask = "<redacted>"

    /// A URL with its userinfo and its whole query replaced: query strings on registries and storage
    /// redirects carry signatures and upload state.
    public static func url(_ text: String) -> String {
        var result = text
        if let query = result.firstIndex(of: "?") { result = String(result[..<query]) + "?" + mask }
        if let scheme = result.range(of: "://"), let at = result[scheme.upperBound...].firstIndex(of: "@"),
           !result[scheme.upperBound..<at].contains("/") {
            result.replaceSubrange(scheme.upperBound..<result.index(after: at), with: mask + "@")
        }
        return result
    }

    /// Free text (server messages, headers) with bearer/basic credentials and token-like fields masked.
    public static func text(_ text: String) -> String {
        var result = text
        for prefix in ["Bearer ", "Basic ", "bearer ", "basic "] {
            var searchStart = result.startIndex
            while let range = result.range(of: prefix, range: searchStart..<result.endIndex) {
                let end = result[range.upperBound...].firstIndex(where: { $0 == " " || $0 == "\"" || $0 == "," || $0 == "\n" }) ?? result.endIndex
                if end > range.upperBound { result.replaceSubrange(range.upperBound..<end, with: mask) }
                searchStart = result.index(range.lowerBound, offsetBy: prefix.count + mask.count, limitedBy: result.endIndex) ?? result.endIndex
            }
        }
        for key in ["\"token\"", "\"access_token\"", "\"refresh_token\"", "password=", "refresh_token=", "client_secret=", "access_token="] {
            guard let range = result.range(of: key) else { continue }
            let end = result[range.upperBound...].firstIndex(where: { $0 == "," || $0 == "&" || $0 == "}" || $0 == "\n" }) ?? result.endIndex
            result.replaceSubrange(range.upperBound..<end, with: key.hasSuffix("=") ? mask : ":\"\(mask)\"")
        }
        return result
    }
}
