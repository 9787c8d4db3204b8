import Archive
import Crypto
import Foundation
import HTTP
#if canImport(Glibc)
import Glibc
#endif

/// uv's warm install path: each wheel is unpacked once into the cache, every member with the mode the
/// installer gives it and mtime 0, beside an index of each member's RECORD hash and size. An install then
/// hard-links members from there (or copies them, across filesystems), and inflates nothing.
///
/// Linked files share their inode with the cache, as uv's do: editing an installed file in place edits the
/// cached one. Kiln never does; the environments it builds are read into layers and removed.
public struct UnpackedWheels: Sendable {
    /// `<cache>/pip/unpacked`.
    public let directory: String

    /// Under `pipCache`, the pip part of Kiln's cache.
    public init(pipCache: URL) {
        directory = pipCache.appendingPathComponent("unpacked").path
    }

    /// One unpacked wheel: where its members are, and each member's hash and size.
    struct Entry {
        let root: String
        let members: [String: Member]

        struct Member: Codable {
            var hash: String
            var size: Int
        }

        func path(of member: String) -> String { root + "/files/" + member }
    }

    /// The unpacked wheel, unpacking it first if no earlier install did. `key` names the wheel's bytes (its
    /// sha256). Concurrent installs each unpack into a private directory; the first rename wins.
    func entry(for zip: ZipDirectory, key: String, fileName: String) async throws -> Entry {
        let root = directory + "/" + key
        if let data = FileManager.default.contents(atPath: root + "/index.json"),
           let members = try? JSONDecoder().decode([String: Entry.Member].self, from: data) {
            return Entry(root: root, members: members)
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let staging = directory + "/.\(key).\(UUID().uuidString).part"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        var members: [String: Entry.Member] = [:]
        var made = Set<String>()
        for entry in zip.entries where !entry.isDirectory {
            let path = try WheelInstaller.contained(entry.name, in: staging + "/files", member: entry.name, wheel: fileName)
            let parent = MemberPath.parent(of: path)
            if made.insert(parent).inserted { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
            let mode = (entry.unixMode ?? 0) & 0o111 != 0 ? 0o755 : 0o644
            let written = try await MemberWriter(epoch: Date(timeIntervalSince1970: 0)).extract(entry, from: zip, to: path, mode: mode)
            members[entry.name] = Entry.Member(hash: written.sha256, size: written.size)
        }
        try RenamedFile.write(JSONEncoder().encode(members), to: staging + "/index.json")
        if rename(staging, root) != 0 {
            // Another install got there first (the directory exists and is complete), or this one cannot.
            guard FileManager.default.fileExists(atPath: root + "/index.json") else {
                throw PipError.install("cannot write \(root): \(String(cString: strerror(errno)))")
            }
        }
        return Entry(root: root, members: members)
    }

    /// Puts the cached `source` at `destination`: a hard link, else a copy (another filesystem, or links
    /// not allowed). The copy keeps mode and mtime.
    static func place(_ source: String, at destination: String) throws {
        if link(source, destination) == 0 { return }
        if errno == EEXIST {
            unlink(destination)
            if link(source, destination) == 0 { return }
        }
        unlink(destination)
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw PipError.install("cannot read \(source): \(String(cString: strerror(errno)))") }
        defer { close(input) }
        var info = stat()
        guard fstat(input, &info) == 0 else { throw PipError.install("cannot read \(source): \(String(cString: strerror(errno)))") }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, info.st_mode & 0o7777)
        guard output >= 0 else { throw PipError.install("cannot write \(destination): \(String(cString: strerror(errno)))") }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            guard count >= 0 else { throw PipError.install("cannot read \(source): \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            try buffer.withUnsafeBytes { try MemberWriter.writeAll(output, UnsafeRawBufferPointer(rebasing: $0[..<count]), destination) }
        }
        var times = [info.st_atim, info.st_mtim]
        _ = futimens(output, &times)
        _ = fchmod(output, info.st_mode & 0o7777)
    }
}
