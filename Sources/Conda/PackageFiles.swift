import Archive
import Foundation
import Plan
#if canImport(Glibc)
import Glibc
#endif

/// A conda package's files in the package cache, other than `info/`: each file's bytes back to back in one
/// file (`files.pack`), and an index of every member (`files.index`): its kind, mode, and where its bytes are.
///
/// A package unpacked into a file per member cost an inode, a directory entry and an open per file twice
/// (once to unpack, once to read it into a layer): for python's 571 files that was most of a cold build.
/// A layer now reads each file's bytes at its offset (`FileRange`); `kiln env install` hard-links them from a tree
/// made from the pack (`tree()`).
public struct PackageFiles: Sendable {
    public enum Kind: UInt8, Sendable {
        case file = 0x66       // "f"
        case directory = 0x64  // "d"
        case symlink = 0x6C    // "l"
    }

    public struct Member: Sendable, Equatable {
        public var kind: Kind
        /// Permission bits from the tar header.
        public var mode: UInt32
        /// Where a file's bytes start in the pack, and how many there are; 0 for the other kinds.
        public var offset: Int64
        public var size: Int64
        /// A symlink's target; empty for the other kinds.
        public var link: String
    }

    static let packName = "files.pack"
    static let indexName = "files.index"
    static let treeName = "tree"

    /// The unpacked package's directory in the cache.
    public let directory: String
    /// The pack's path.
    public let pack: String
    /// How errors name the package.
    public let what: String
    let members: [String: Member]

    /// Whether `directory` holds a complete unpacked package (the index is written last).
    static func isComplete(_ directory: URL) -> Bool {
        FileManager.default.fileExists(atPath: directory.appendingPathComponent(indexName).path)
    }

    /// The files of the package unpacked into `directory` (`PackageArchive.extract`).
    public static func open(_ directory: URL, what: String) throws -> PackageFiles {
        let index = directory.appendingPathComponent(indexName).path
        guard let data = FileManager.default.contents(atPath: index) else {
            throw CondaError.package("\(what): the package cache has no \(indexName) at \(directory.path); remove the directory to unpack it again")
        }
        var members: [String: Member] = [:]
        let damaged = CondaError.package("\(what): the package cache's \(index) is damaged; remove its directory to unpack it again")
        // Records of three NUL-terminated fields: "<kind> <mode> <offset> <size>", the path, the link; after the
        // last NUL, nothing.
        let fields = data.split(separator: 0, omittingEmptySubsequences: false)
        guard fields.count % 3 == 1, fields.last?.isEmpty == true else { throw damaged }
        var position = fields.startIndex
        while position + 2 < fields.endIndex {
            let head = fields[position].split(separator: UInt8(ascii: " "))
            guard head.count == 4, head[0].count == 1, let kind = Kind(rawValue: head[0][head[0].startIndex]),
                  let mode = UInt32(String(decoding: head[1], as: UTF8.self), radix: 8),
                  let offset = Int64(String(decoding: head[2], as: UTF8.self)), let size = Int64(String(decoding: head[3], as: UTF8.self)),
                  offset >= 0, size >= 0 else { throw damaged }
            let path = String(decoding: fields[position + 1], as: UTF8.self)
            members[path] = Member(kind: kind, mode: mode, offset: offset, size: size, link: String(decoding: fields[position + 2], as: UTF8.self))
            position += 3
        }
        return PackageFiles(directory: directory.path, pack: directory.appendingPathComponent(packName).path, what: what, members: members)
    }

    /// The member at `path` as the tar had it (a symlink is not followed).
    public func member(_ path: String) -> Member? { members[path] }

    /// The regular file at `path`, following symlinks inside the package as opening it in an unpacked tree would;
    /// nil when there is none.
    public func file(_ path: String) -> Member? {
        var path = path
        for _ in 0..<40 {
            guard let member = members[path] else { return nil }
            switch member.kind {
            case .file: return member
            case .directory: return nil
            case .symlink:
                guard let target = MemberPath.target(of: member.link, from: path) else { return nil }
                path = target
            }
        }
        return nil
    }

    /// Whether `path` is a directory of the package: one the tar lists, or one its members are under.
    public func isDirectory(_ path: String) -> Bool {
        if let member = members[path] { return member.kind == .directory }
        let prefix = path + "/"
        return members.keys.contains { $0.hasPrefix(prefix) }
    }

    /// Where `member`'s bytes are, for a layer to read them; `path` names it in errors.
    public func range(_ member: Member, path: String) -> FileRange {
        FileRange(path: pack, offset: member.offset, size: member.size, name: "\(what): \(path)")
    }

    /// Writes `member`'s bytes to a new file at `destination` (replacing what is there, never writing through it)
    /// with its mode, copied by the kernel from the pack: memory stays flat for a file of any size.
    public func copy(_ member: Member, path: String, to destination: String) throws {
        let input = try openPack(for: path)
        defer { close(input) }
        try copy(member, path: path, to: destination, from: input)
    }

    /// The pack, open for reading; `path` names the file wanted from it in the error.
    private func openPack(for path: String) throws -> Int32 {
        let input = Glibc.open(pack, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw CondaError.install("\(what): cannot read \(path) from \(pack): \(String(cString: strerror(errno)))") }
        return input
    }

    /// `copy`, from the pack open as `input`.
    private func copy(_ member: Member, path: String, to destination: String, from input: Int32) throws {
        func failure(_ doing: String) -> CondaError {
            CondaError.install("\(what): cannot \(doing) \(path) to \(destination): \(String(cString: strerror(errno)))")
        }
        let output = FileSink.createReplacing(destination, mode: mode_t(member.mode))
        guard output >= 0 else { throw failure("create") }
        var closed = false
        defer { if !closed { close(output) } }
        // The umask may have cleared bits of the mode.
        guard fchmod(output, mode_t(member.mode)) == 0 else { throw failure("set the mode of") }
        var offset = off_t(member.offset)
        var left = member.size
        while left > 0 {
            // sendfile(2) copies between regular files too, in the kernel, without touching user memory.
            let count = sendfile(output, input, &offset, Int(min(left, 1 << 30)))
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw failure("copy") }
            guard count > 0 else { throw CondaError.install("\(what): \(pack) is cut short at \(path)") }
            left -= Int64(count)
        }
        closed = true
        guard close(output) == 0 else { throw failure("write") }
    }

    /// Puts `member`'s bytes at `destination` as conda and rattler do for an install into a directory: a hard link
    /// to the package's file tree (`tree()`), else (another filesystem, links refused) a copy out of the pack.
    ///
    /// A linked file shares its inode with the cache, as conda's, rattler's and uv's do: editing it in place edits
    /// the cached copy. Layers never read the tree, only the pack.
    public func link(_ member: Member, path: String, to destination: String, tree: String) throws {
        let source = tree + "/" + Self.treeName(member)
        if Glibc.link(source, destination) == 0 { return }
        if errno == EEXIST, unlink(destination) == 0, Glibc.link(source, destination) == 0 { return }
        try copy(member, path: path, to: destination)
    }

    /// The package's files as a tree of their own beside the pack, made from it the first time an install into a
    /// directory asks (`kiln build` never does): one file per distinct run of bytes and mode, named by them, so that
    /// hard links inside the package stay one file. Made in a private directory renamed into place, so a
    /// concurrent install sees it whole or not at all.
    public func tree() throws -> String {
        let tree = directory + "/" + Self.treeName
        if FileManager.default.fileExists(atPath: tree) { return tree }
        let staging = directory + "/.\(Self.treeName).\(UUID().uuidString).part"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        do {
            try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        } catch {
            throw CondaError.install("\(what): cannot write \(staging): \(error.localizedDescription)")
        }
        var made = Set<String>()
        // The pack is opened once for all of its files.
        var input: Int32 = -1
        defer { if input >= 0 { close(input) } }
        for (path, member) in members where member.kind == .file {
            let name = Self.treeName(member)
            guard made.insert(name).inserted else { continue }
            if input < 0 { input = try openPack(for: path) }
            try copy(member, path: path, to: staging + "/" + name, from: input)
        }
        if rename(staging, tree) != 0, !FileManager.default.fileExists(atPath: tree) {
            throw CondaError.install("\(what): cannot write \(tree): \(String(cString: strerror(errno)))")
        }
        return tree
    }

    /// A file's name in the tree: its offset, size and mode (empty files of two modes share an offset).
    static func treeName(_ member: Member) -> String {
        "\(member.offset)-\(member.size)-\(String(member.mode, radix: 8))"
    }

    /// `member`'s bytes.
    public func data(_ member: Member, path: String) throws -> Data {
        guard let handle = FileHandle(forReadingAtPath: pack) else { throw CondaError.install("\(what): cannot read \(path) from \(pack)") }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: UInt64(member.offset))
            let data = try handle.read(upToCount: Int(member.size)) ?? Data()
            guard data.count == member.size else { throw CondaError.install("\(what): \(pack) is cut short at \(path)") }
            return data
        } catch let error as CondaError {
            throw error
        } catch {
            throw CondaError.install("\(what): cannot read \(path) from \(pack): \(error.localizedDescription)")
        }
    }
}

/// Writes a package's pack and index as its tar is read (`PackageArchive.extractTar`). A member seen twice
/// keeps its last copy, as unpacking it over the first would.
final class PackageFilesWriter {
    private let directory: URL
    private let sink: FileSink
    private var offset: Int64 = 0
    private var index: [UInt8] = []
    private var members: [String: PackageFiles.Member] = [:]

    init(directory: URL) throws {
        self.directory = directory
        sink = try FileSink(path: directory.appendingPathComponent(PackageFiles.packName).path)
    }

    /// Appends a file's bytes, which `body` writes through the closure it is given.
    func addFile(_ path: String, mode: UInt32, body: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let start = offset
        try body { bytes in
            try sink.write(bytes)
            offset += Int64(bytes.count)
        }
        add(path, PackageFiles.Member(kind: .file, mode: mode & 0o7777, offset: start, size: offset - start, link: ""))
    }

    func addDirectory(_ path: String, mode: UInt32) {
        add(path, PackageFiles.Member(kind: .directory, mode: mode & 0o7777, offset: 0, size: 0, link: ""))
    }

    func addSymlink(_ path: String, link: String) {
        add(path, PackageFiles.Member(kind: .symlink, mode: 0o777, offset: 0, size: 0, link: link))
    }

    /// A hard link to a file already written: the same bytes under a second name. False when there is none.
    func addHardlink(_ path: String, to target: String) -> Bool {
        guard let member = members[target], member.kind == .file else { return false }
        add(path, member)
        return true
    }

    private func add(_ path: String, _ member: PackageFiles.Member) {
        members[path] = member
        let kind = Character(UnicodeScalar(member.kind.rawValue))
        index.append(contentsOf: "\(kind) \(String(member.mode, radix: 8)) \(member.offset) \(member.size)".utf8)
        index.append(0)
        index.append(contentsOf: path.utf8)
        index.append(0)
        index.append(contentsOf: member.link.utf8)
        index.append(0)
    }

    /// Closes the pack and writes the index, which marks the package complete.
    func finish() throws {
        try sink.finish()
        let file = try FileSink(path: directory.appendingPathComponent(PackageFiles.indexName).path)
        try index.withUnsafeBytes { try file.write($0) }
        try file.finish()
    }
}
