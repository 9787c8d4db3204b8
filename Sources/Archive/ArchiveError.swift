/// Errors from layer writing and reading. Each names the file or member involved.
public enum ArchiveError: Error, CustomStringConvertible {
    case missingSource(String)
    case unreadable(String, errno: Int32)
    case symlinkEscapes(path: String, target: String, root: String)
    case unsupportedFileType(String)
    case conflictingDestinations(String, first: String, second: String)
    case invalidDestination(String, reason: String)
    case changedDuringBuild(String)
    case write(String)
    case compression(String)
    case hostileMember(String, reason: String)
    case read(String, detail: String)

    public var description: String {
        switch self {
        case let .missingSource(path): return "source not found: \(path)"
        case let .unreadable(path, code): return "cannot read \(path): \(String(cString: strerror(code)))"
        case let .symlinkEscapes(path, target, root): return "symlink \(path) -> \(target) escapes its source root \(root)"
        case let .unsupportedFileType(path): return "unsupported file type (only files, directories and symlinks): \(path)"
        case let .conflictingDestinations(dest, first, second): return "two inputs map to \(dest): \(first) and \(second)"
        case let .invalidDestination(dest, reason): return "invalid destination '\(dest)': \(reason)"
        case let .changedDuringBuild(path): return "file changed while the layer was being written: \(path)"
        case let .write(detail): return "writing layer: \(detail)"
        case let .compression(detail): return "compression: \(detail)"
        case let .hostileMember(name, reason): return "rejected archive member '\(name)': \(reason)"
        case let .read(what, detail): return "reading \(what): \(detail)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
