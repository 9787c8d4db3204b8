/// Errors from reading, building and writing images. Each names the image, layer or path involved
/// and is safe to print.
public enum ImageError: Error, CustomStringConvertible, Sendable {
    /// The base image cannot be used: missing, malformed, the wrong platform.
    case base(String)
    /// The output cannot be written.
    case output(String)
    /// A stored image (layout, archive) that is broken or not what it claims.
    case source(String)

    /// The detail, prefixed with `base image:` or `output:` for those cases.
    public var description: String {
        switch self {
        case let .base(detail): return "base image: \(detail)"
        case let .output(detail): return "output: \(detail)"
        case let .source(detail): return detail
        }
    }
}
