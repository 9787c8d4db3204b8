import HTTP
/// Errors from conda work. Each message names the input at fault and never holds a channel token.
public enum CondaError: Error, CustomStringConvertible, Equatable {
    case invalidVersion(String, String)
    case invalidSpec(String, String)
    case repodata(String)
    case unsatisfiable(String)
    case package(String)
    case environmentFile(String)
    case lockFile(String)
    case install(String)

    public var description: String {
        switch self {
        case let .invalidVersion(text, why): return "invalid conda version '\(text)': \(why)"
        case let .invalidSpec(text, why): return "invalid match spec '\(text)': \(why)"
        case let .repodata(detail): return "repodata: \(Redaction.text(detail))"
        case let .unsatisfiable(detail): return "cannot solve the environment: \(detail)"
        case let .package(detail): return "package: \(Redaction.text(detail))"
        case let .environmentFile(detail): return "environment file: \(detail)"
        case let .lockFile(detail): return "lock file: \(Redaction.text(detail))"
        case let .install(detail): return "install: \(Redaction.text(detail))"
        }
    }
}
