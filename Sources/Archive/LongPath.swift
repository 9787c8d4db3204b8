import Foundation

/// File system calls for paths of any length. Linux refuses a path of PATH_MAX (4096) bytes or more with
/// ENAMETOOLONG, though a tree may nest deeper than that; such a path is opened in pieces shorter than
/// the limit, each relative to a descriptor of the directory before it (`openat`).
public enum LongPath {
    /// Paths shorter than this go to the plain calls.
    static let limit = 3800
    /// Linux's O_PATH (a descriptor only for *at calls), which Swift's Glibc module does not export.
    static let pathOnly: Int32 = 0o10000000

    /// `open(2)`.
    public static func open(_ path: String, _ flags: Int32) -> Int32 {
        guard path.utf8.count >= limit else { return Glibc.open(path, flags) }
        return inParent(path, fallback: -1) { directory, name in openat(directory, name, flags) }
    }

    /// `opendir(3)`; with `following` false, a symlink (even to a directory) is refused with ELOOP or ENOTDIR.
    static func openDirectory(_ path: String, following: Bool = true) -> OpaquePointer? {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (following ? 0 : O_NOFOLLOW))
        guard fd >= 0 else { return nil }
        guard let handle = fdopendir(fd) else {
            close(fd)
            return nil
        }
        return handle
    }

    /// `lstat(2)`.
    public static func lstat(_ path: String, _ info: inout stat) -> Int32 {
        guard path.utf8.count >= limit else { return Glibc.lstat(path, &info) }
        var result = stat()
        let status = inParent(path, fallback: -1) { directory, name in fstatat(directory, name, &result, AT_SYMLINK_NOFOLLOW) }
        info = result
        return status
    }

    /// `readlink(2)`: the target's bytes.
    static func readLink(_ path: String) -> [UInt8]? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = path.utf8.count < limit ? readlink(path, &buffer, buffer.count - 1)
            : inParent(path, fallback: -1) { directory, name in readlinkat(directory, name, &buffer, buffer.count - 1) }
        guard count >= 0 else { return nil }
        return buffer[0..<count].map { UInt8(bitPattern: $0) }
    }

    /// Runs `body` with a descriptor of `path`'s parent directory and its last component; errno is left
    /// as the failing call set it.
    static func inParent<T>(_ path: String, fallback: T, _ body: (Int32, String) -> T) -> T {
        var parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard let name = parts.popLast() else { return fallback }
        var directory = Glibc.open(path.hasPrefix("/") ? "/" : ".", pathOnly | O_DIRECTORY | O_CLOEXEC)
        var piece: [String] = []
        func descend() -> Bool {
            let next = openat(directory, piece.joined(separator: "/"), pathOnly | O_DIRECTORY | O_CLOEXEC)
            let saved = errno
            close(directory)
            directory = next
            errno = saved
            piece = []
            return next >= 0
        }
        guard directory >= 0 else { return fallback }
        for part in parts {
            if piece.reduce(0, { $0 + $1.utf8.count + 1 }) + part.utf8.count >= limit, !descend() { return fallback }
            piece.append(part)
        }
        if !piece.isEmpty, !descend() { return fallback }
        defer { close(directory) }
        return body(directory, name)
    }
}
