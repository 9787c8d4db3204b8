/// Errors in AzureML inputs. Each names the file and the field.
public enum AzureMLError: Error, CustomStringConvertible {
    /// A file that does not exist: what it is (such as "entryScript"), then its path.
    case missingFile(String, String)
    /// An inference config that does not decode: its path, then the decoder's message.
    case malformed(String, String)
    /// An inference config with a field Kiln cannot use: its path, then the problem.
    case invalid(String, String)
    /// A model given as `NAME:VERSION=PATH` that does not parse.
    case model(String)

    /// A one-line message naming the file or model.
    public var description: String {
        switch self {
        case let .missingFile(what, path): return "\(what) not found: \(path)"
        case let .malformed(path, detail): return "malformed inference config \(path): \(detail)"
        case let .invalid(path, detail): return "inference config \(path): \(detail)"
        case let .model(detail): return "model \(detail)"
        }
    }
}
