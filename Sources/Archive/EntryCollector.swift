import Foundation
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
    /// `threads` lists directories side by side (default: one per core, at most 4); the result is the same.
    public static func collect(_ inputs: [LayerInput], threads: Int? = nil) throws -> [LayerEntry] {
        try collectStamped(inputs, threads: threads).entries
    }

    /// The entries, and beside each the `stat` the walk saw of its file: nil for the other kinds, and for
    /// files an installer staged. The layer cache keys on these; they are a separate array so that the
    /// build can drop them before it writes the layer.
    public static func collectStamped(_ inputs: [LayerInput], threads: Int? = nil) throws -> (entries: [LayerEntry], stamps: [FileStamp?]) {
        let threads = threads ?? min(4, ProcessInfo.processInfo.activeProcessorCount)
        var found = Found()
        for (number, input) in inputs.enumerated() {
            try add(input, origin: number, threads: threads, into: &found)
        }
        // One input's walk comes out sorted already; inputs that overlap, or staged files, need the sort.
        let single = inputs.count == 1 && inputs[0].members.isEmpty
        if !single && !isSorted(found) { sortByPath(&found) }
        try addMissingParents(&found)
        try removeDuplicates(&found, inputs: inputs)

        // In place, so the entries are never held twice (200,000 of them are tens of MiB).
        var firstPathOfInode: [FileKey: String] = [:]
        for index in found.entries.indices where found.linked[index] {
            guard let stamp = found.stamps[index] else { continue }
            let key = FileKey(device: stamp.device, inode: stamp.inode)
            if let first = firstPathOfInode[key] {
                found.entries[index] = LayerEntry(path: found.entries[index].path, kind: .hardlink(target: first),
                                                  mode: found.entries[index].mode)
            } else {
                firstPathOfInode[key] = found.entries[index].path
            }
        }
        return (found.entries, found.stamps)
    }

    struct FileKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    /// The entries found so far, with beside each its file's stamp, the index of the input it came from (for
    /// error messages; -1 for an added parent) and whether its file has other hard links. Parallel arrays, not
    /// an array of structs, so the entries come out without a copy.
    struct Found {
        var entries: [LayerEntry] = []
        var stamps: [FileStamp?] = []
        var origins: [Int32] = []
        var linked: [Bool] = []
        /// Paths whose parents no walk added: an input's destination, a staged file.
        var tops: [String] = []

        mutating func append(_ entry: LayerEntry, stamp: FileStamp? = nil, origin: Int, linked isLinked: Bool = false) {
            entries.append(entry)
            stamps.append(stamp)
            origins.append(Int32(truncatingIfNeeded: origin))
            linked.append(isLinked)
        }

        var count: Int { entries.count }

        mutating func append(contentsOf other: Found) {
            entries.append(contentsOf: other.entries)
            stamps.append(contentsOf: other.stamps)
            origins.append(contentsOf: other.origins)
            linked.append(contentsOf: other.linked)
        }

        mutating func swapAt(_ a: Int, _ b: Int) {
            entries.swapAt(a, b)
            stamps.swapAt(a, b)
            origins.swapAt(a, b)
            linked.swapAt(a, b)
        }

        /// Puts the entry at `offset + order[k]` at `offset + k`, in place, one cycle at a time, so no second
        /// array of entries is ever held. `order` ends as the identity.
        mutating func arrange(_ order: inout [Int], from offset: Int) {
            for start in order.indices where order[start] != start {
                var current = start
                while true {
                    let next = order[current]
                    order[current] = current
                    if next == start { break }
                    swapAt(offset + current, offset + next)
                    current = next
                }
            }
        }

        mutating func removeLast(_ count: Int) {
            entries.removeLast(count)
            stamps.removeLast(count)
            origins.removeLast(count)
            linked.removeLast(count)
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

    static func add(_ input: LayerInput, origin: Int, threads: Int, into found: inout Found) throws {
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
                found.tops.append(destination)
            }
            let root = realpathString(input.source) ?? input.source
            try walkInParallel(WalkedDirectory(path: input.source, relative: "", destination: destination), root: root,
                               origin: origin, threads: threads, into: &found)
            for staged in input.members {
                let relative = MemberPath.isPlain(staged.path) ? staged.path : try normalizeDestination("/" + staged.path)
                guard !relative.isEmpty, !staged.path.hasPrefix("/") else {
                    throw ArchiveError.invalidDestination(staged.path, reason: "an archive member's path must be relative to its input")
                }
                var mode: UInt32 = staged.mode & 0o111 != 0 ? 0o755 : 0o644
                let kind: LayerEntry.Kind
                switch staged.source {
                case let .archive(member): kind = .member(member)
                case let .range(range): kind = .range(range)
                case let .bytes(data): kind = .data(data)
                case .directory:
                    kind = .directory
                    mode = 0o755
                }
                let path = destination.isEmpty ? relative : destination + "/" + relative
                found.append(LayerEntry(path: path, kind: kind, mode: mode), origin: origin)
                found.tops.append(path)
            }
        } else {
            try addEntry(for: input.source, info: info, root: nil, relative: "", destination: destination, origin: origin, into: &found)
            found.tops.append(destination)
        }
    }

    static func addEntry(for source: String, info: stat, root: String?, relative: String, destination: String,
                         origin: Int, into found: inout Found) throws {
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            found.append(LayerEntry(path: destination, kind: .directory, mode: 0o755), origin: origin)
        case S_IFREG:
            addFile(SourcePath(source), info: info, destination: destination, origin: origin, into: &found)
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

    static func addFile(_ source: SourcePath, info: stat, destination: String, origin: Int, into found: inout Found) {
        let mode: UInt32 = (info.st_mode & 0o111) != 0 ? 0o755 : 0o644
        found.append(LayerEntry(path: destination, kind: .file(source: source, size: Int64(info.st_size)), mode: mode),
                     stamp: FileStamp(info), origin: origin, linked: info.st_nlink > 1)
    }

    /// Adds every missing ancestor directory, mode 0755, so that extractors never invent one with their
    /// own mode. In sorted order a parent precedes its children, so only directories need remembering.
    /// Only the paths in `found.tops` can lack a parent: a walk adds every directory it enters. Whether a
    /// parent is there is a binary search of the sorted entries.
    static func addMissingParents(_ found: inout Found) throws {
        var made: Set<String> = []
        var missing: [LayerEntry] = []
        var lastParent: Substring = ""
        for top in found.tops {
            var parent = Substring(top)
            guard let slash = parent.utf8.lastIndex(of: UInt8(ascii: "/")) else { continue }
            parent = parent[..<slash]
            // Staged files come in order, and neighbours mostly share a parent.
            if parent.utf8.elementsEqual(lastParent.utf8) { continue }
            lastParent = parent
            while true {
                let path = String(parent)
                if made.contains(path) || hasDirectory(path, in: found.entries) { break }
                made.insert(path)
                missing.append(LayerEntry(path: path, kind: .directory, mode: 0o755))
                guard let slash = parent.utf8.lastIndex(of: UInt8(ascii: "/")) else { break }
                parent = parent[..<slash]
            }
        }
        found.tops = []
        guard !missing.isEmpty else { return }
        for entry in missing { found.append(entry, origin: -1) }
        sortByPath(&found)
    }

    /// Whether sorted `entries` hold a directory at `path`.
    static func hasDirectory(_ path: String, in entries: [LayerEntry]) -> Bool {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if LayerEntry.precedes(entries[middle].path, path) { low = middle + 1 } else { high = middle }
        }
        return low < entries.count && entries[low].path == path && entries[low].kind == .directory
    }

    static func isSorted(_ found: Found) -> Bool {
        for index in found.entries.indices.dropFirst() where !LayerEntry.precedes(found.entries[index - 1].path, found.entries[index].path) {
            return false
        }
        return true
    }

    /// Sorts by path bytes (`LayerEntry.precedes`), moving indices only (`LayerEntry.order`).
    static func sortByPath(_ found: inout Found) {
        var order = LayerEntry.order(of: found.entries.lazy.map(\.path))
        found.arrange(&order, from: 0)
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
            if kept != index { found.swapAt(kept, index) }
            kept += 1
        }
        found.removeLast(found.count - kept)
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
