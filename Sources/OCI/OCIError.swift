/// Errors from the OCI image model. Each message names the offending value and how to fix it.
public enum OCIError: Error, CustomStringConvertible, Equatable {
    case invalidDigest(String, reason: String)
    case invalidReference(String, reason: String)
    case invalidPlatform(String)
    case malformedJSON(what: String, detail: String)
    case layout(path: String, reason: String)
    case noMatchingManifest(String)

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
