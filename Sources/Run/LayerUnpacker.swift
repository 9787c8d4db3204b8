import Archive
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Applies image layers, in order, to a root directory on disk, as a container runtime's snapshotter
/// would: whiteouts (`.wh.NAME`) and opaque markers (`.wh..wh..opq`) remove what lower layers put there,
/// then the layer's files, directories, symlinks and hard links land with their modes (and owners, when
/// running as root). Device nodes and FIFOs are skipped: runc provides /dev.
///
/// Every member is written through `RootDirectory`, so no path is ever followed out of the root: a member
/// path that climbs out with `..` is refused, and a symlink an earlier member made resolves inside the
/// root. Directory modes are applied at the end, so a read-only directory can still be filled first.
final class LayerUnpacker {
    let root: RootDirectory
    let preserveOwners: Bool
    /// Final mode and mtime of every directory a layer listed, by in-root path.
    private var directories: [String: (mode: UInt32, mtime: Int64)] = [:]
    /// Recently opened member parents, by the member's own (unresolved) parent path. Emptied whenever a
    /// directory or symlink is removed, so a cached descriptor never outlives the path that led to it.
    private var parents: [[String]: RootDirectory.Directory] = [:]

    static let whiteoutPrefix = ".wh."
    static let opaqueMarker = ".wh..wh..opq"

    /// An unpacker into `rootPath`, which must exist. Owners are kept only when `preserveOwners` (root).
    init(rootPath: String, preserveOwners: Bool = geteuid() == 0) throws {
        root = try RootDirectory(path: rootPath)
        self.preserveOwners = preserveOwners
    }

    /// Applies the layer tar (compressed or not) at `path`; `name` identifies it in errors.
    func apply(layerAt path: String, name: String) throws {
        let reader: TarReader
        do { reader = try TarReader(path: path) } catch { throw RunError.unpack(layer: name, detail: "\(error)") }
        var layer = LayerState()
        while true {
            let member: TarMember
            do {
                guard let next = try reader.next() else { break }
                member = next
            } catch {
                throw RunError.unpack(layer: name, detail: "\(error)")
            }
            do {
                try apply(member, reader: reader, layer: &layer, layerName: name)
            } catch let error as RootError {
                throw RunError.unpack(layer: name, detail: "member '\(member.path)': \(error)")
            } catch let error as ArchiveError {
                throw RunError.unpack(layer: name, detail: "member '\(member.path)': \(error)")
            }
        }
    }

    /// Sets the modes and mtimes of the directories the layers listed, last layer winning. Call once,
    /// after the last layer.
    func finish() throws {
        for (key, attributes) in directories.sorted(by: { $0.key.count > $1.key.count }) {
            let parts = key.split(separator: "/").map(String.init)
            // Skipped when a later layer removed it or put a symlink on the way.
            guard let directory = try? root.directory(parts, create: false), directory.components == parts else { continue }
            var info = stat()
            guard fstat(directory.fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { continue }
            var times = [timespec(tv_sec: Int(attributes.mtime), tv_nsec: 0), timespec(tv_sec: Int(attributes.mtime), tv_nsec: 0)]
            futimens(directory.fd, &times)
            guard fchmod(directory.fd, mode_t(attributes.mode)) == 0 else { throw RootError.system("chmod /\(key)", errno) }
        }
    }

    /// What one layer has written so far, by in-root path: its whiteouts and opaque markers may not
    /// remove these (they apply to lower layers only).
    struct LayerState {
        var written: Set<String> = []
        var ancestors: Set<String> = []

        mutating func record(_ key: String) {
            written.insert(key)
            var parts = key.split(separator: "/")
            while !parts.isEmpty {
                parts.removeLast()
                ancestors.insert(parts.joined(separator: "/"))
            }
        }
    }

    private func apply(_ member: TarMember, reader: TarReader, layer: inout LayerState, layerName: String) throws {
        let parts = try Self.components(member.path, layer: layerName)
        guard let name = parts.last else { return }   // `./` itself: the root keeps its own mode
        if name == Self.opaqueMarker {
            guard let directory = try root.directory(Array(parts.dropLast()), create: false) else { return }
            parents.removeAll()
            try prune(directory.fd, key: directory.components.joined(separator: "/"), layer: layer)
            return
        }
        if name.hasPrefix(Self.whiteoutPrefix) {
            let hidden = String(name.dropFirst(Self.whiteoutPrefix.count))
            guard !hidden.isEmpty, hidden != ".", hidden != "..",
                  let directory = try root.directory(Array(parts.dropLast()), create: false),
                  !layer.written.contains(directory.key(hidden)) else { return }
            try removeTree(hidden, in: directory.fd, key: directory.key(hidden))
            return
        }
        guard let (directory, leaf) = try parent(of: parts) else { return }
        let key = directory.key(leaf)
        switch member.kind {
        case .directory:
            try makeDirectory(leaf, in: directory, member: member)
            directories[key] = (member.mode, member.mtime)
        case .file:
            try removeTree(leaf, in: directory.fd, key: key)
            try writeFile(leaf, in: directory.fd, member: member, reader: reader)
        case .symlink:
            try removeTree(leaf, in: directory.fd, key: key)
            guard symlinkat(member.linkTarget ?? "", directory.fd, leaf) == 0 else { throw RootError.system("symlink /\(key)", errno) }
            if preserveOwners { fchownat(directory.fd, leaf, uid_t(member.uid), gid_t(member.gid), AT_SYMLINK_NOFOLLOW) }
            var times = [timespec(tv_sec: Int(member.mtime), tv_nsec: 0), timespec(tv_sec: Int(member.mtime), tv_nsec: 0)]
            utimensat(directory.fd, leaf, &times, AT_SYMLINK_NOFOLLOW)
        case .hardlink:
            try link(leaf, in: directory, to: member.linkTarget ?? "", member: member, layerName: layerName)
        case .other:
            return
        }
        layer.record(key)
    }

    /// Member path → components below the root. `.` and empty parts go; `..` is refused when it would
    /// climb above the root, and otherwise cancels the part before it (lexically: a member's own path
    /// never follows a link to decide what `..` means).
    static func components(_ path: String, layer: String) throws -> [String] {
        var parts: [String] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." {
                guard !parts.isEmpty else {
                    throw RunError.hostileLayer(layer: layer, member: path, reason: "it climbs out of the image root with '..'")
                }
                parts.removeLast()
            } else {
                parts.append(String(part))
            }
        }
        return parts
    }

    /// An existing directory is kept (its contents too); anything else in the way is removed first.
    private func makeDirectory(_ name: String, in directory: RootDirectory.Directory, member: TarMember) throws {
        var info = stat()
        if fstatat(directory.fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0, (info.st_mode & S_IFMT) != S_IFDIR {
            try removeTree(name, in: directory.fd, key: directory.key(name))
        }
        if mkdirat(directory.fd, name, 0o700) != 0 && errno != EEXIST { throw RootError.system("mkdir \(name)", errno) }
        // Writable by us until `finish` sets the real mode.
        fchmodat(directory.fd, name, mode_t(member.mode | 0o700), 0)
        if preserveOwners { fchownat(directory.fd, name, uid_t(member.uid), gid_t(member.gid), AT_SYMLINK_NOFOLLOW) }
    }

    private func writeFile(_ name: String, in directory: Int32, member: TarMember, reader: TarReader) throws {
        let fd = openat(directory, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RootError.system("create \(name)", errno) }
        defer { close(fd) }
        try reader.readData { bytes in
            var offset = 0
            while offset < bytes.count, let base = bytes.baseAddress {
                let count = write(fd, base + offset, bytes.count - offset)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { throw RootError.system("write \(name)", errno) }
                offset += count
            }
        }
        // chown clears set-id bits, so the mode comes after it.
        if preserveOwners { fchown(fd, uid_t(member.uid), gid_t(member.gid)) }
        guard fchmod(fd, mode_t(member.mode)) == 0 else { throw RootError.system("chmod \(name)", errno) }
        var times = [timespec(tv_sec: Int(member.mtime), tv_nsec: 0), timespec(tv_sec: Int(member.mtime), tv_nsec: 0)]
        futimens(fd, &times)
    }

    /// A hard link to a file already in the root. Its target is resolved inside the root as well, and
    /// `linkat` without AT_SYMLINK_FOLLOW links a symlink itself, never what it points at.
    private func link(_ name: String, in directory: RootDirectory.Directory, to target: String, member: TarMember, layerName: String) throws {
        let targetParts = try Self.components(target, layer: layerName)
        guard let (targetDirectory, targetName) = try root.parent(of: targetParts, create: false) else {
            throw RunError.unpack(layer: layerName, detail: "hard link '\(member.path)' names '\(target)', which is not in the image")
        }
        var info = stat()
        guard fstatat(targetDirectory.fd, targetName, &info, AT_SYMLINK_NOFOLLOW) == 0, (info.st_mode & S_IFMT) != S_IFDIR else {
            throw RunError.unpack(layer: layerName, detail: "hard link '\(member.path)' names '\(target)', which is not a file in the image")
        }
        if targetDirectory.key(targetName) == directory.key(name) { return }
        try removeTree(name, in: directory.fd, key: directory.key(name))
        guard linkat(targetDirectory.fd, targetName, directory.fd, name, 0) == 0 else {
            throw RootError.system("link /\(directory.key(name)) to /\(targetDirectory.key(targetName))", errno)
        }
    }

    /// An opaque directory: everything a lower layer put inside goes; what this layer wrote stays. A
    /// directory this layer wrote or wrote into is kept but pruned in turn, since it merged with a lower one.
    private func prune(_ fd: Int32, key: String, layer: LayerState) throws {
        for name in try TreeRemoval.entries(of: fd) {
            let child = key.isEmpty ? name : key + "/" + name
            let kept = layer.written.contains(child) || layer.ancestors.contains(child)
            var info = stat()
            guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            if kept && (info.st_mode & S_IFMT) == S_IFDIR {
                let inner = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard inner >= 0 else { throw RootError.system("open /\(child)", errno) }
                defer { close(inner) }
                try prune(inner, key: child, layer: layer)
            } else if !kept {
                try removeTree(name, in: fd, key: child)
            }
        }
    }

    /// Removes a tree and forgets the modes recorded below it, so a directory made again later does not
    /// get an old mode.
    private func removeTree(_ name: String, in directory: Int32, key: String) throws {
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        let kind = info.st_mode & S_IFMT
        if kind == S_IFDIR || kind == S_IFLNK {
            // A cached parent may have been reached through what goes now.
            parents.removeAll()
        }
        if kind == S_IFDIR {
            directories = directories.filter { $0.key != key && !$0.key.hasPrefix(key + "/") }
        }
        try TreeRemoval.remove(name, in: directory)
    }

    /// The directory that holds a member, from the last few members' parents when it was opened before.
    private func parent(of parts: [String]) throws -> (directory: RootDirectory.Directory, name: String)? {
        guard let name = parts.last else { return nil }
        let path = Array(parts.dropLast())
        if let cached = parents[path] { return (cached, name) }
        guard let directory = try root.directory(path, create: true) else { return nil }
        if parents.count >= 64 { parents.removeAll() }
        parents[path] = directory
        return (directory, name)
    }
}
