/// Errors in AzureML inputs. Each names the file and the field.
public enum AzureMLError: Error, CustomStringConvertible {
    case missingFile(String, String)
    case malformed(String, String)
    case invalid(String, String)
    /// A model given as `NAME:VERSION=PATH` that does not parse.
    case model(String)

    public var description: String {
        switch self {
        case let .missingFile(what, path): return "\(what) not found: \(path)"
        case let .malformed(path, detail): return "malformed inference config \(path): \(detail)"
        case let .invalid(path, detail): return "inference config \(path): \(detail)"
        case let .model(detail): return "model \(detail)"
        }
    }
}
