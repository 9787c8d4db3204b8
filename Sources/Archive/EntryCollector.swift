#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Plan

/// Turns host inputs into the sorted, normalised entry list of one layer. This is where the
/// reproducibility rules for layer *contents* live (the tar writer applies those for headers):
/// - paths sorted by bytes, with every parent directory present;
/// - modes 0755 for directories and executables, 0644 for other files, so umask does not leak in;
/// - symlinks kept as links, and refused when they resolve outside their source root;
/// - files that are hard links of each other inside the layer stored once, the rest as links.
public enum EntryCollector {
    public static func collect(_ inputs: [LayerInput]) throws -> [LayerEntry] {
        var found = Found()
        for (number, input) in inputs.enumerated() {
            try add(input, origin: number, into: &found)
        }
        sortByPath(&found)
        try addMissingParents(&found)
        try removeDuplicates(&found, inputs: inputs)

        // In place, so the entries are never held twice (200,000 of them are tens of MiB).
        var firstPathOfInode: [FileKey: String] = [:]
        for index in found.entries.indices where found.linked[index] {
            guard let stamp = found.entries[index].stamp else { continue }
            let key = FileKey(device: stamp.device, inode: stamp.inode)
            if let first = firstPathOfInode[key] {
                found.entries[index] = LayerEntry(path: found.entries[index].path, kind: .hardlink(target: first),
                                                  mode: found.entries[index].mode)
            } else {
                firstPathOfInode[key] = found.entries[index].path
            }
        }
        return found.entries
    }

    struct FileKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    /// The entries found so far, with beside each the index of the input it came from (for error messages;
    /// -1 for an added parent) and whether its file has other hard links. Parallel arrays, not an array of
    /// structs, so the entries come out without a copy.
    struct Found {
        var entries: [LayerEntry] = []
        var origins: [Int32] = []
        var linked: [Bool] = []

        mutating func append(_ entry: LayerEntry, origin: Int, linked isLinked: Bool = false) {
            entries.append(entry)
            origins.append(Int32(truncatingIfNeeded: origin))
            linked.append(isLinked)
        }

        var count: Int { entries.count }

        mutating func append(contentsOf other: Found) {
            entries.append(contentsOf: other.entries)
            origins.append(contentsOf: other.origins)
            linked.append(contentsOf: other.linked)
        }
    }

    /// Normalises an image path: absolute, no `..`, no empty or `.` components. Returns it without the leading `/`.
    static func normalizeDestination(_ destination: String) throws -> String {
        guard destination.hasPrefix("/") else {
            throw ArchiveError.invalidDestination(destination, reason: "must be an absolute path in the image")
        }
        var parts: [Substring] = []
        for part in destination.split(separator: "/") where part != "." {
            guard part != ".." else { throw ArchiveError.invalidDestination(destination, reason: "'..' is not allowed") }
            parts.append(part)
        }
        return parts.joined(separator: "/")
    }

    static func add(_ input: LayerInput, origin: Int, into found: inout Found) throws {
        var info = stat()
        // The named source itself is followed if it is a symlink: the user pointed at it.
        guard stat(input.source, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { throw ArchiveError.missingSource(input.source) }
            throw ArchiveError.unreadable(input.source, errno: errno)
        }
        var destination = try normalizeDestination(input.destination)
        let isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
        if !isDirectory, input.destination.hasSuffix("/") || destination.isEmpty {
            let name = input.source.split(separator: "/").last.map(String.init) ?? input.source
            destination = destination.isEmpty ? name : destination + "/" + name
        }
        if isDirectory {
            if !destination.isEmpty {
                found.append(LayerEntry(path: destination, kind: .directory, mode: 0o755), origin: origin)
            }
            let root = realpathString(input.source) ?? input.source
            try walkInParallel(WalkedDirectory(path: input.source, relative: "", destination: destination), root: root,
                               origin: origin, into: &found)
            for staged in input.members {
                let relative = try normalizeDestination("/" + staged.path)
                guard !relative.isEmpty, !staged.path.hasPrefix("/") else {
                    throw ArchiveError.invalidDestination(staged.path, reason: "an archive member's path must be relative to its input")
                }
                let mode: UInt32 = staged.mode & 0o111 != 0 ? 0o755 : 0o644
                let kind: LayerEntry.Kind
                switch staged.source {
                case let .archive(member): kind = .member(member)
                case let .file(path, size): kind = .file(source: path, size: size)
                }
                found.append(LayerEntry(path: destination.isEmpty ? relative : destination + "/" + relative, kind: kind, mode: mode),
                             origin: origin)
            }
        } else {
            try addEntry(for: input.source, info: info, root: nil, relative: "", destination: destination, origin: origin, into: &found)
        }
    }

    /// A directory the walk has still to list: its host path, its path under the input's root, and in the image.
    struct WalkedDirectory: Sendable {
        var path: String
        var relative: String
        var destination: String
    }

    /// Walks the tree under `directory` depth first, on this thread.
    static func walk(_ directory: WalkedDirectory, root: String, origin: Int, into found: inout Found) throws {
        var subdirectories: [WalkedDirectory] = []
        try list(directory, root: root, origin: origin, into: &found, subdirectories: &subdirectories)
        for subdirectory in subdirectories {
            try walk(subdirectory, root: root, origin: origin, into: &found)
        }
    }

    /// Adds an entry for each name in `directory`, and appends the subdirectories to `subdirectories`.
    static func list(_ directory: WalkedDirectory, root: String, origin: Int, into found: inout Found,
                     subdirectories: inout [WalkedDirectory]) throws {
        guard let handle = LongPath.openDirectory(directory.path) else { throw ArchiveError.unreadable(directory.path, errno: errno) }
        defer { closedir(handle) }
        var names: [String] = []
        while let item = readdir(handle) {
            let name = try withUnsafeBytes(of: item.pointee.d_name) { raw -> String? in
                let bytes = UnsafeRawBufferPointer(rebasing: raw[..<(raw.firstIndex(of: 0) ?? raw.count)])
                // PAX path records are UTF-8; a name that is not is refused rather than written as replacement characters.
                guard let name = String(validating: bytes, as: UTF8.self) else {
                    throw ArchiveError.notUTF8(directory: directory.path, name: ArchiveError.escaped(Array(bytes)))
                }
                return name == "." || name == ".." ? nil : name
            }
            if let name { names.append(name) }
        }
        for name in names {
            let source = directory.path + "/" + name
            let destination = directory.destination.isEmpty ? name : directory.destination + "/" + name
            var info = stat()
            // Relative to the open directory: the kernel does not walk the whole path again for each name.
            guard fstatat(dirfd(handle), name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw ArchiveError.unreadable(source, errno: errno)
            }
            if info.st_mode & S_IFMT == S_IFREG {
                addFile(source, info: info, destination: destination, origin: origin, into: &found)
                continue
            }
            let relative = directory.relative.isEmpty ? name : directory.relative + "/" + name
            try addEntry(for: source, info: info, root: root, relative: relative, destination: destination, origin: origin, into: &found)
            if info.st_mode & S_IFMT == S_IFDIR {
                subdirectories.append(WalkedDirectory(path: source, relative: relative, destination: destination))
            }
        }
    }

    static func addEntry(for source: String, info: stat, root: String?, relative: String, destination: String,
                         origin: Int, into found: inout Found) throws {
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            found.append(LayerEntry(path: destination, kind: .directory, mode: 0o755), origin: origin)
        case S_IFREG:
            addFile(source, info: info, destination: destination, origin: origin, into: &found)
        case S_IFLNK:
            let target = try readLink(source)
            if let root {
                try SymlinkCheck.ensureInside(root: root, linkRelative: relative, target: target, linkPath: source)
            }
            found.append(LayerEntry(path: destination, kind: .symlink(target: target), mode: 0o777), origin: origin)
        default:
            throw ArchiveError.unsupportedFileType(source)
        }
    }

    static func addFile(_ source: String, info: stat, destination: String, origin: Int, into found: inout Found) {
        let mode: UInt32 = (info.st_mode & 0o111) != 0 ? 0o755 : 0o644
        found.append(LayerEntry(path: destination, kind: .file(source: source, size: Int64(info.st_size)), mode: mode,
                                stamp: FileStamp(info)),
                     origin: origin, linked: info.st_nlink > 1)
    }

    /// Adds every missing ancestor directory, mode 0755, so that extractors never invent one with their
    /// own mode. In sorted order a parent precedes its children, so only directories need remembering.
    static func addMissingParents(_ found: inout Found) throws {
        var directories: Set<String> = []
        var missing: [LayerEntry] = []
        // Neighbours in sorted order mostly share a parent, which then needs no lookup.
        var lastParent: Substring = ""
        for entry in found.entries {
            if entry.kind == .directory { directories.insert(entry.path) }
            var parent = Substring(entry.path)
            guard let slash = parent.utf8.lastIndex(of: UInt8(ascii: "/")) else { continue }
            parent = parent[..<slash]
            if parent.utf8.elementsEqual(lastParent.utf8) { continue }
            lastParent = parent
            while true {
                guard directories.insert(String(parent)).inserted else { break }
                missing.append(LayerEntry(path: String(parent), kind: .directory, mode: 0o755))
                guard let slash = parent.utf8.lastIndex(of: UInt8(ascii: "/")) else { break }
                parent = parent[..<slash]
            }
        }
        guard !missing.isEmpty else { return }
        for entry in missing { found.append(entry, origin: -1) }
        sortByPath(&found)
    }

    /// Sorts by path bytes (`LayerEntry.precedes`). The paths are laid end to end in one buffer and the
    /// sort moves only indices, comparing with memcmp: sorting the entries themselves copied each one
    /// (retaining its strings) at every move, which was a seventh of the time at 200,000 files.
    static func sortByPath(_ found: inout Found) {
        var bytes: [UInt8] = []
        var spans: [(start: Int, count: Int)] = []
        spans.reserveCapacity(found.count)
        for entry in found.entries {
            var path = entry.path
            path.withUTF8 { utf8 in
                spans.append((bytes.count, utf8.count))
                bytes.append(contentsOf: utf8)
            }
        }
        var order = Array(found.entries.indices)
        bytes.withUnsafeBufferPointer { buffer in
            spans.withUnsafeBufferPointer { spans in
                guard let base = buffer.baseAddress else { return }
                order.sort { left, right in
                    let a = spans[left], b = spans[right]
                    let order = memcmp(base + a.start, base + b.start, min(a.count, b.count))
                    return order != 0 ? order < 0 : a.count < b.count
                }
            }
        }
        // Apply the order in place, one cycle at a time, so no second array of entries is ever held.
        for start in order.indices where order[start] != start {
            var current = start
            while true {
                let next = order[current]
                order[current] = current
                if next == start { break }
                found.entries.swapAt(current, next)
                found.origins.swapAt(current, next)
                found.linked.swapAt(current, next)
                current = next
            }
        }
    }

    /// Two inputs may share a directory; any other repeated path is a conflict the user must resolve.
    static func removeDuplicates(_ found: inout Found, inputs: [LayerInput]) throws {
        var kept = 0
        for index in found.entries.indices {
            if kept > 0, found.entries[kept - 1].path == found.entries[index].path {
                let existing = found.entries[kept - 1]
                let item = found.entries[index]
                if existing.kind == .directory, item.kind == .directory { continue }
                func name(_ origin: Int32) -> String { origin >= 0 ? inputs[Int(origin)].source : "(parent directory)" }
                throw ArchiveError.conflictingDestinations("/" + item.path, first: name(found.origins[kept - 1]),
                                                           second: name(found.origins[index]))
            }
            if kept != index {
                found.entries.swapAt(kept, index)
                found.origins[kept] = found.origins[index]
                found.linked[kept] = found.linked[index]
            }
            kept += 1
        }
        let extra = found.count - kept
        found.entries.removeLast(extra)
        found.origins.removeLast(extra)
        found.linked.removeLast(extra)
    }

    static func readLink(_ path: String) throws -> String {
        guard let bytes = LongPath.readLink(path) else { throw ArchiveError.unreadable(path, errno: errno) }
        guard let target = String(validating: bytes, as: UTF8.self) else {
            throw ArchiveError.notUTF8(directory: path, name: "symlink target " + ArchiveError.escaped(bytes))
        }
        return target
    }

    static func realpathString(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
