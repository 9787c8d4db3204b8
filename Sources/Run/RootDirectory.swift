#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A directory that paths are resolved inside, the way a chroot would: every component is opened with
/// O_NOFOLLOW from the one before it, a symlink met on the way is read and followed *within* the root
/// (an absolute target starts again at the root, `..` stops at the root), and nothing is ever opened by
/// a full path. So a link that an earlier layer planted (`evil -> /etc`) can point a later member only
/// at `ROOT/etc`, never at the host's.
final class RootDirectory {
    /// The root's path on this machine, for messages.
    let path: String
    /// An open descriptor for the root directory.
    let fd: Int32

    static let maxLinks = 40

    /// Opens `path`, which must be a directory (a symlink to one is refused).
    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw RootError.system("open \(path)", errno) }
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    /// A directory inside the root, open, with the real (link-free) components that lead to it.
    final class Directory {
        let fd: Int32
        let components: [String]
        let owned: Bool

        init(fd: Int32, components: [String], owned: Bool) {
            self.fd = fd
            self.components = components
            self.owned = owned
        }

        deinit { if owned { close(fd) } }

        /// `usr/lib/name`: the in-root path of `name` in this directory, the key layers are tracked by.
        func key(_ name: String) -> String { (components + [name]).joined(separator: "/") }
    }

    /// The root itself, as a directory.
    var top: Directory { Directory(fd: fd, components: [], owned: false) }

    /// Opens the directory at `components` below the root, following links inside the root. Missing
    /// directories are made (mode 0755) when `create` is set; otherwise a missing one gives nil. A
    /// component that exists but is not a directory (nor a link to one) is an error.
    func directory(_ components: [String], create: Bool) throws -> Directory? {
        var stack: [Directory] = []
        var pending = Array(components.reversed())
        var links = 0
        func current() -> Int32 { stack.last?.fd ?? fd }
        func names() -> [String] { stack.last?.components ?? [] }
        while let part = pending.popLast() {
            if part.isEmpty || part == "." { continue }
            if part == ".." {
                if !stack.isEmpty { stack.removeLast() }
                continue
            }
            let next = openat(current(), part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next >= 0 {
                stack.append(Directory(fd: next, components: names() + [part], owned: true))
                continue
            }
            var info = stat()
            guard fstatat(current(), part, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                guard errno == ENOENT else { throw RootError.system("stat \(display(names() + [part]))", errno) }
                guard create else { return nil }
                guard mkdirat(current(), part, 0o755) == 0 || errno == EEXIST else {
                    throw RootError.system("mkdir \(display(names() + [part]))", errno)
                }
                pending.append(part)
                continue
            }
            guard (info.st_mode & S_IFMT) == S_IFLNK else {
                throw RootError.notDirectory(display(names() + [part]))
            }
            links += 1
            guard links <= Self.maxLinks else { throw RootError.tooManyLinks(display(names() + [part])) }
            let target = try readLink(in: current(), part, shown: names() + [part])
            if target.hasPrefix("/") { stack.removeAll() }
            pending.append(contentsOf: target.split(separator: "/").map(String.init).reversed())
        }
        return stack.last ?? top
    }

    /// The directory holding `components`' last name, and that name: where a member is written. The
    /// last name itself is never followed.
    func parent(of components: [String], create: Bool) throws -> (directory: Directory, name: String)? {
        guard let name = components.last else { return nil }
        guard let directory = try directory(Array(components.dropLast()), create: create) else { return nil }
        return (directory, name)
    }

    /// Opens an existing file for reading, following links (the last one too) inside the root; nil
    /// when it does not exist. For reading the image's /etc/passwd and /etc/group.
    func openFile(_ components: [String]) throws -> Int32? {
        var path = components
        for _ in 0...Self.maxLinks {
            guard let (directory, name) = try parent(of: path, create: false) else { return nil }
            var info = stat()
            guard fstatat(directory.fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
            if (info.st_mode & S_IFMT) == S_IFLNK {
                let target = try readLink(in: directory.fd, name, shown: directory.components + [name])
                let parts = target.split(separator: "/").map(String.init)
                path = target.hasPrefix("/") ? parts : directory.components + parts
                continue
            }
            let fd = openat(directory.fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw RootError.system("open \(display(directory.components + [name]))", errno) }
            return fd
        }
        throw RootError.tooManyLinks(display(components))
    }

    /// The whole of a small file inside the root, or nil when there is none.
    func readFile(_ components: [String], limit: Int = 16 << 20) throws -> [UInt8]? {
        guard let fd = try openFile(components) else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while bytes.count < limit {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw RootError.system("read \(display(components))", errno) }
            if count == 0 { break }
            bytes += buffer[0..<count]
        }
        return bytes
    }

    func readLink(in directory: Int32, _ name: String, shown: [String]) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlinkat(directory, name, &buffer, buffer.count - 1)
        guard count >= 0 else { throw RootError.system("readlink \(display(shown))", errno) }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func display(_ components: [String]) -> String { "/" + components.joined(separator: "/") }
}

/// What went wrong inside a root; the unpacker adds the layer and member.
enum RootError: Error, CustomStringConvertible {
    case system(String, Int32)
    case notDirectory(String)
    case tooManyLinks(String)

    var description: String {
        switch self {
        case let .system(what, code): return "\(what): \(String(cString: strerror(code)))"
        case let .notDirectory(path): return "\(path) is not a directory"
        case let .tooManyLinks(path): return "too many symlinks resolving \(path)"
        }
    }
}
