/// Errors in AzureML inputs. Each names the file and the field.
public enum AzureMLError: Error, CustomStringConvertible {
    /// A file that does not exist: what it is (such as "entryScript"), then its path.
    case missingFile(String, String)
    /// A file (inference config, deployment, environment, catalogue entry) that does not parse: its
    /// path, then the parser's message.
    case malformed(String, String)
    /// A file with a field Kiln cannot use: its path, then the problem (with the line, for YAML).
    case invalid(String, String)
    /// A model given as `NAME:VERSION=PATH` that does not parse.
    case model(String)
    /// A Dockerfile line Kiln cannot read or carry out: the file, the 1-based line (0 for the whole
    /// file), and what is wrong, starting with the instruction.
    case dockerfile(path: String, line: Int, message: String)

    /// A one-line message naming the file or model.
    public var description: String {
        switch self {
        case let .missingFile(what, path): return "\(what) not found: \(path)"
        case let .malformed(path, detail): return "malformed \(path): \(detail)"
        case let .invalid(path, detail): return "\(path): \(detail)"
        case let .model(detail): return "model \(detail)"
        case let .dockerfile(path, line, message): return line > 0 ? "\(path) line \(line): \(message)" : "\(path): \(message)"
        }
    }
}
