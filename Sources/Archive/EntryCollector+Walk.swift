#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension EntryCollector {
    /// A directory the walk has still to list: its host path, its path under the input's root, and in the image.
    struct WalkedDirectory: Sendable {
        var path: String
        var relative: String
        var destination: String
    }

    /// One directory's entries in layer order among themselves, and where each subdirectory's own entries go
    /// among them. The entries stay where the listing thread put them; `order` holds their indices there.
    ///
    /// Layer order is by the bytes of the whole path, so a subdirectory's contents do not simply follow its
    /// entry: `a`, `a.txt`, `a/b` is the order, since `.` sorts before `/`. A subdirectory `a` therefore has
    /// two places in its parent's order: its own entry under the key `a`, and its contents under `a/`.
    /// Joining the listings by these places gives the layer order with no sort of the whole tree, which at
    /// 200,000 files was most of the time after the walk.
    struct Listing: Sendable {
        /// Which thread's entries hold this listing's (0: the calling thread's).
        var part = 0
        var order: [Int32] = []
        /// Each subdirectory, with the position in `order` its contents go before (`order.count`: at the end).
        var subtrees: [(before: Int, directory: WalkedDirectory)] = []
    }

    /// Walks the tree under `directory` depth first, on this thread.
    static func walk(_ directory: WalkedDirectory, root: String, origin: Int, into found: inout Found) throws {
        let start = found.count
        var listings: [String: Listing] = [:]
        var pending = [directory]
        while let next = pending.popLast() {
            let listing = try list(next, root: root, origin: origin, into: &found)
            // Reversed, so that the first subdirectory is listed next, as a recursive walk would.
            pending.append(contentsOf: listing.subtrees.map(\.directory).reversed())
            listings[next.destination] = listing
        }
        try arrange(directory.destination, root: directory.path, listings: &listings, offsets: [0], from: start, in: &found)
    }

    /// Puts the entries from `start` on, which `listings` describe, into layer order. `offsets[part]` is where
    /// each thread's entries begin in `found`.
    static func arrange(_ destination: String, root: String, listings: inout [String: Listing], offsets: [Int], from start: Int,
                        in found: inout Found) throws {
        var order: [Int] = []
        order.reserveCapacity(found.count - start)
        join(destination, from: &listings, offsets: offsets, into: &order)
        // Every entry exactly once, or the tree changed under the walk in a way its listings cannot join.
        var placed = [Bool](repeating: false, count: found.count - start)
        guard order.count == placed.count else { throw ArchiveError.changedDuringBuild(root) }
        for index in order.indices {
            order[index] -= start
            guard placed.indices.contains(order[index]), !placed[order[index]] else { throw ArchiveError.changedDuringBuild(root) }
            placed[order[index]] = true
        }
        found.arrange(&order, from: start)
    }

    /// Appends to `order` the indices of the listing of `destination` and, in their places, those of its subdirectories.
    static func join(_ destination: String, from listings: inout [String: Listing], offsets: [Int], into order: inout [Int]) {
        guard let listing = listings.removeValue(forKey: destination) else { return }
        let offset = offsets[listing.part]
        var next = 0
        for (before, subdirectory) in listing.subtrees {
            for index in listing.order[next..<before] { order.append(offset + Int(index)) }
            next = before
            join(subdirectory.destination, from: &listings, offsets: offsets, into: &order)
        }
        for index in listing.order[next...] { order.append(offset + Int(index)) }
    }

    /// Adds to `found` an entry for each name in `directory`, and returns their layer order and its subdirectories.
    static func list(_ directory: WalkedDirectory, root: String, origin: Int, part: Int = 0, into found: inout Found) throws -> Listing {
        // The input's own directory may be a symlink (the user named it); one found inside is a link, never
        // entered: a directory swapped for a symlink after its parent was examined is refused, not followed.
        guard let handle = LongPath.openDirectory(directory.path, following: directory.relative.isEmpty) else {
            if errno == ELOOP || errno == ENOTDIR { throw ArchiveError.changedDuringBuild(directory.path) }
            throw ArchiveError.unreadable(directory.path, errno: errno)
        }
        defer { closedir(handle) }
        var names: [String] = []
        var seen = Set<String>()
        while let item = readdir(handle) {
            let name = try withUnsafeBytes(of: item.pointee.d_name) { raw -> String? in
                let bytes = UnsafeRawBufferPointer(rebasing: raw[..<(raw.firstIndex(of: 0) ?? raw.count)])
                // PAX path records are UTF-8; a name that is not is refused rather than written as replacement characters.
                guard let name = String(validating: bytes, as: UTF8.self) else {
                    throw ArchiveError.notUTF8(directory: directory.path, name: ArchiveError.escaped(Array(bytes)))
                }
                return name == "." || name == ".." ? nil : name
            }
            // A directory replaced while it is read may show a name twice; it is listed once.
            if let name, seen.insert(name).inserted { names.append(name) }
        }
        let base = found.count
        var subdirectories: [Int: WalkedDirectory] = [:]
        let shared = SourcePath.Directory(directory.path)
        for (number, name) in names.enumerated() {
            let destination = directory.destination.isEmpty ? name : directory.destination + "/" + name
            var info = stat()
            // Relative to the open directory: the kernel does not walk the whole path again for each name.
            guard fstatat(dirfd(handle), name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw ArchiveError.unreadable(directory.path + "/" + name, errno: errno)
            }
            if info.st_mode & S_IFMT == S_IFREG {
                addFile(SourcePath(directory: shared, name: name), info: info, destination: destination, origin: origin, into: &found)
                continue
            }
            let source = directory.path + "/" + name
            let relative = directory.relative.isEmpty ? name : directory.relative + "/" + name
            try addEntry(for: source, info: info, root: root, relative: relative, destination: destination, origin: origin, into: &found)
            if info.st_mode & S_IFMT == S_IFDIR {
                subdirectories[number] = WalkedDirectory(path: source, relative: relative, destination: destination)
            }
        }
        // Each entry under its name, and each subdirectory's contents under its name and a slash.
        var keys: [(key: String, number: Int, contents: Bool)] = names.indices.map { (names[$0], $0, false) }
        for (number, _) in subdirectories { keys.append((names[number] + "/", number, true)) }
        keys.sort { LayerEntry.precedes($0.key, $1.key) }
        var listing = Listing(part: part)
        listing.order.reserveCapacity(names.count)
        for key in keys {
            if key.contents, let subdirectory = subdirectories[key.number] {
                listing.subtrees.append((listing.order.count, subdirectory))
            } else {
                listing.order.append(Int32(truncatingIfNeeded: base + key.number))
            }
        }
        return listing
    }
}
