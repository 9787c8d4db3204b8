import Foundation

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
    /// A file name (or symlink target) that is not UTF-8: where it is, and the name with its bad bytes as `\xNN`.
    case notUTF8(directory: String, name: String)

    /// Why a file the walk found could not be opened or read (`code`, an errno): gone (ENOENT), swapped for a
    /// symlink (ELOOP, opened with O_NOFOLLOW) or for a FIFO (EAGAIN, opened without blocking) is a change since
    /// the walk; anything else, unreadable.
    static func reading(_ path: String, errno code: Int32) -> ArchiveError {
        code == ENOENT || code == ELOOP || code == EAGAIN ? .changedDuringBuild(path) : .unreadable(path, errno: code)
    }

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
        // The compressors know no path; say at least what they were compressing.
        case let .compression(detail): return "compressing a layer: \(detail)"
        case let .hostileMember(name, reason): return "rejected archive member '\(name)': \(reason)"
        case let .read(what, detail): return "reading \(what): \(detail)"
        case let .notUTF8(directory, name):
            return "\(directory): '\(name)' is not valid UTF-8; Kiln archives UTF-8 names only (PAX names are UTF-8), so rename it"
        }
    }

    /// `bytes` as text, with every byte that is not part of valid UTF-8 written `\xNN`.
    static func escaped(_ bytes: [UInt8]) -> String {
        var text = ""
        var index = 0
        while index < bytes.count {
            var length = 1
            while length <= 4, index + length <= bytes.count {
                if let piece = String(validating: bytes[index..<index + length], as: UTF8.self) {
                    text += piece.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f }) ? piece : piece.unicodeScalars.map { String(format: "\\u{%x}", $0.value) }.joined()
                    break
                }
                length += 1
            }
            if length > 4 || index + length > bytes.count {
                text += String(format: "\\x%02x", bytes[index])
                length = 1
            }
            index += length
        }
        return text
    }
}
