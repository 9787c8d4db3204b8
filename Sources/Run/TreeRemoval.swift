#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Removes files and whole trees by name inside an open directory, never following a symlink: a link is
/// removed, not what it points at. Directories without write or search permission (a 0555 tree left by
/// an image, when not running as root) are opened up first, so the work directory always goes away.
enum TreeRemoval {
    /// Removes `name` in `directory`, whatever it is; nothing when it does not exist.
    static func remove(_ name: String, in directory: Int32) throws {
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return }
            throw RootError.system("stat \(name)", errno)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            try empty(name, in: directory)
            guard unlinkat(directory, name, AT_REMOVEDIR) == 0 || errno == ENOENT else { throw RootError.system("rmdir \(name)", errno) }
        } else {
            guard unlinkat(directory, name, 0) == 0 || errno == ENOENT else { throw RootError.system("unlink \(name)", errno) }
        }
    }

    /// Removes everything inside the directory `name` in `directory`, keeping the directory itself.
    static func empty(_ name: String, in directory: Int32) throws {
        let fd = try openForRemoval(name, in: directory)
        defer { close(fd) }
        for child in try entries(of: fd) { try remove(child, in: fd) }
    }

    /// The names in an open directory, without `.` and `..`.
    static func entries(of fd: Int32) throws -> [String] {
        let copy = dup(fd)
        guard copy >= 0, let stream = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            throw RootError.system("opendir", errno)
        }
        defer { closedir(stream) }
        rewinddir(stream)
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes the tree at an absolute `path` (the work directory); quiet when it is already gone.
    static func remove(path: String) throws {
        let slash = path.lastIndex(of: "/") ?? path.startIndex
        let parent = slash == path.startIndex ? "/" : String(path[..<slash])
        let name = String(path[path.index(after: slash)...])
        let fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return }
            throw RootError.system("open \(parent)", errno)
        }
        defer { close(fd) }
        try remove(name, in: fd)
    }

    /// Opens a directory to list and delete its entries, granting ourselves rwx on it when we own it
    /// but lack them.
    private static func openForRemoval(_ name: String, in directory: Int32) throws -> Int32 {
        var fd = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 && errno == EACCES {
            fchmodat(directory, name, 0o700, 0)
            fd = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        guard fd >= 0 else { throw RootError.system("open \(name)", errno) }
        var info = stat()
        if fstat(fd, &info) == 0, info.st_mode & 0o700 != 0o700, info.st_uid == geteuid() {
            fchmod(fd, (info.st_mode & 0o7777) | 0o700)
        }
        return fd
    }
}
