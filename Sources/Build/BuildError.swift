/// Errors from planning and building. Each names the input involved and is safe to print.
public enum BuildError: Error, CustomStringConvertible {
    case invalidArgument(String)
    case notSupportedYet(String)
    case output(String)
    case base(String)

    public var description: String {
        switch self {
        case let .invalidArgument(detail): return detail
        case let .notSupportedYet(detail): return "not supported yet: \(detail)"
        case let .output(detail): return "output: \(detail)"
        case let .base(detail): return "base image: \(detail)"
        }
    }
}
