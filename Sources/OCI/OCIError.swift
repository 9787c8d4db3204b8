/// Errors from the OCI image model. Each message names the offending value and how to fix it.
public enum OCIError: Error, CustomStringConvertible, Equatable {
    /// A digest that does not parse: the text, then why.
    case invalidDigest(String, reason: String)
    /// An image reference that does not parse: the text, then why.
    case invalidReference(String, reason: String)
    /// A platform that is not `os/arch[/variant]`.
    case invalidPlatform(String)
    /// A manifest, index, config or other JSON that does not decode: what it is, then the detail.
    case malformedJSON(what: String, detail: String)
    /// An OCI layout that is missing, unreadable or inconsistent: its path, then why.
    case layout(path: String, reason: String)
    /// An index with no entry for the requested platform.
    case noMatchingManifest(String)

    /// A one-line message naming the offending value.
    public var description: String {
        switch self {
        case let .invalidDigest(text, reason): return "invalid digest '\(text)': \(reason)"
        case let .invalidReference(text, reason): return "invalid image reference '\(text)': \(reason)"
        case let .invalidPlatform(text): return "invalid platform '\(text)': expected os/arch[/variant], e.g. linux/amd64"
        case let .malformedJSON(what, detail): return "malformed \(what): \(detail)"
        case let .layout(path, reason): return "OCI layout \(path): \(reason)"
        case let .noMatchingManifest(detail): return "no matching manifest: \(detail)"
        }
    }
}
