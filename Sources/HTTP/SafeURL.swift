/// A URL that hides its secrets whenever it is printed: userinfo, conda's `/t/<token>/` segments, and
/// query strings (registry upload `_state`, storage SAS signatures, AAD token requests).
///
/// Like uv's `DisplaySafeUrl`, redaction is a property of the type, not a habit of each call site:
/// string interpolation, `print` and `description` all show the redacted form, and only `raw`, which
/// the transport uses, has the secret.
public struct SafeURL: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The URL as given, secrets included. Use it to send a request, never to print.
    public let raw: String

    /// Wraps `raw`, which is kept as given.
    public init(_ raw: String) {
        self.raw = raw
    }

    /// The URL with its secrets replaced by `Redaction.mask`.
    public var description: String { Redaction.url(raw) }
    /// The redacted form, as `description`.
    public var debugDescription: String { description }
}

/// The redaction rules, one mask for all of Kiln.
public enum Redaction {
    /// What every secret is replaced with.
    public static let mask = "<redacted>"

    /// `text` as a URL with its userinfo, `/t/<token>/` segments and query replaced; a fragment
    /// (`#sha256=…`) is kept, since it is a checksum, not a secret.
    public static func url(_ text: String) -> String {
        var result = text
        if let query = result.firstIndex(of: "?") {
            let fragment = result[query...].firstIndex(of: "#") ?? result.endIndex
            result.replaceSubrange(query..<fragment, with: "?" + mask)
        }
        return hideTokens(hideUserinfo(result))
    }

    /// Free text (server messages, headers, errors) with credentials masked: `Bearer`/`Basic` values,
    /// token-like JSON fields and form values, userinfo in URLs and conda channel tokens.
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
        return hideTokens(hideUserinfo(result))
    }

    /// `scheme://user:password@host` → `scheme://<redacted>@host`, for every URL in `text`.
    static func hideUserinfo(_ text: String) -> String {
        var result = text
        var searchStart = result.startIndex
        while let scheme = result.range(of: "://", range: searchStart..<result.endIndex) {
            let authority = result[scheme.upperBound...]
            let hostEnd = authority.firstIndex(where: { "/?# \n'\"".contains($0) }) ?? authority.endIndex
            if let at = authority[..<hostEnd].lastIndex(of: "@") {
                result.replaceSubrange(scheme.upperBound...at, with: mask + "@")
                searchStart = result.index(scheme.upperBound, offsetBy: mask.count + 1, limitedBy: result.endIndex) ?? result.endIndex
            } else {
                searchStart = hostEnd
            }
        }
        return result
    }

    /// conda's private-channel tokens: `/t/<token>/` → `/t/<redacted>/`.
    static func hideTokens(_ text: String) -> String {
        var result = text
        var searchStart = result.startIndex
        while let range = result.range(of: "/t/", range: searchStart..<result.endIndex) {
            let end = result[range.upperBound...].firstIndex { $0 == "/" || $0 == " " || $0 == "'" || $0 == "\n" } ?? result.endIndex
            result.replaceSubrange(range.upperBound..<end, with: mask)
            searchStart = result.index(range.upperBound, offsetBy: mask.count, limitedBy: result.endIndex) ?? result.endIndex
        }
        return result
    }
}
