import Archive
import Foundation

/// Bytes that can be read at any offset: a local file, or a remote file through HTTP range requests.
public protocol ByteSource: Sendable {
    var size: Int64 { get }
    func read(at offset: Int64, count: Int) async throws -> Data
}

/// A local file read with pread through one descriptor, open while the value lives.
public final class FileByteSource: ByteSource, @unchecked Sendable {
    public let path: String
    public let size: Int64
    let descriptor: Int32

    public init(path: String) throws {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        var info = stat()
        guard descriptor >= 0, fstat(descriptor, &info) == 0 else {
            if descriptor >= 0 { close(descriptor) }
            throw PipError.wheel("cannot read \(path)")
        }
        size = Int64(info.st_size)
    }

    deinit { close(descriptor) }

    public func read(at offset: Int64, count: Int) async throws -> Data {
        var data = Data(count: count)
        var done = 0
        while done < count {
            let got = data.withUnsafeMutableBytes { buffer in
                buffer.baseAddress.map { pread(descriptor, $0 + done, count - done, off_t(offset) + off_t(done)) } ?? -1
            }
            guard got > 0 else { throw PipError.wheel("\(path): short read at \(offset) (the zip is truncated)") }
            done += got
        }
        return data
    }
}

/// One member of a zip archive, from its central directory.
public struct ZipEntry: Sendable {
    public var name: String
    public var method: UInt16
    public var crc32: UInt32
    public var compressedSize: Int64
    public var size: Int64
    public var localHeaderOffset: Int64
    /// Unix mode from the external attributes' high 16 bits, when the archive was made on Unix.
    public var unixMode: UInt32?
    public var isDirectory: Bool { name.hasSuffix("/") }
}

/// The central directory of a zip (a wheel), read from its end: no need to fetch the whole archive.
public struct ZipDirectory: Sendable {
    public var entries: [ZipEntry]
    let source: any ByteSource
    let label: String

    /// A directory read before (`entries`), over `source` again: the install of a wheel parsed while the others were
    /// still downloading, without holding a file open per wheel meanwhile.
    public init(entries: [ZipEntry], source: any ByteSource, label: String) {
        self.entries = entries
        self.source = source
        self.label = label
    }

    public init(_ source: any ByteSource, label: String) async throws {
        self.source = source
        self.label = label
        func fail(_ why: String) -> PipError { .wheel("\(label): \(why)") }
        // A zip64 value past Int64.max is corruption, to be refused rather than trapped on.
        func field64(_ value: UInt64) throws -> Int64 {
            guard let result = Int64(exactly: value) else { throw fail("a zip64 size or offset is out of range") }
            return result
        }
        let tailLength = Int(min(source.size, 65_557))
        guard tailLength >= 22 else { throw fail("too short to be a zip archive") }
        let tail = try await source.read(at: source.size - Int64(tailLength), count: tailLength)
        guard let eocd = Self.findBackwards(tail, signature: 0x0605_4b50) else { throw fail("not a zip archive (no end of central directory)") }
        var count = Int64(tail.u16(eocd + 10))
        var directorySize = Int64(tail.u32(eocd + 12))
        var directoryOffset = Int64(tail.u32(eocd + 16))
        if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // Zip64: a locator sits just before the classic record and points at the zip64 record.
            guard eocd >= 20, tail.u32(eocd - 20) == 0x0706_4b50 else { throw fail("zip64 locator missing") }
            let recordOffset = try field64(tail.u64(eocd - 20 + 8))
            let record = try await source.read(at: recordOffset, count: 56)
            guard record.u32(0) == 0x0606_4b50 else { throw fail("zip64 end record missing") }
            count = try field64(record.u64(32))
            directorySize = try field64(record.u64(40))
            directoryOffset = try field64(record.u64(48))
        }
        // Compared without adding, so huge zip64 values cannot overflow.
        guard directoryOffset >= 0, directorySize >= 0, directoryOffset <= source.size, directorySize <= source.size - directoryOffset,
              count < 10_000_000 else {
            throw fail("central directory lies outside the archive")
        }
        let tailStart = source.size - Int64(tailLength)
        let directory: Data
        if directoryOffset >= tailStart {
            let start = Int(directoryOffset - tailStart)
            directory = tail.subdata(in: start..<start + Int(directorySize))
        } else {
            directory = try await source.read(at: directoryOffset, count: Int(directorySize))
        }
        entries = []
        var cursor = 0
        for _ in 0..<count {
            guard cursor + 46 <= directory.count, directory.u32(cursor) == 0x0201_4b50 else { throw fail("central directory is corrupt") }
            let madeBy = directory.u16(cursor + 4) >> 8
            let method = directory.u16(cursor + 10)
            let crc = directory.u32(cursor + 16)
            var compressed = Int64(directory.u32(cursor + 20))
            var size = Int64(directory.u32(cursor + 24))
            let nameLength = Int(directory.u16(cursor + 28)), extraLength = Int(directory.u16(cursor + 30))
            let commentLength = Int(directory.u16(cursor + 32))
            let external = directory.u32(cursor + 38)
            var offset = Int64(directory.u32(cursor + 42))
            let end = cursor + 46 + nameLength + extraLength + commentLength
            guard end <= directory.count else { throw fail("central directory is corrupt") }
            let nameBytes = directory.subdata(in: cursor + 46..<cursor + 46 + nameLength)
            guard let name = String(data: nameBytes, encoding: .utf8) else { throw fail("a member name is not UTF-8") }
            // Zip64 extra field: the 64-bit values, in order, for each 32-bit field that overflowed.
            var extra = cursor + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = directory.u16(extra), length = Int(directory.u16(extra + 2))
                if id == 0x0001 {
                    var field = extra + 4
                    if size == 0xFFFF_FFFF, field + 8 <= extra + 4 + length { size = try field64(directory.u64(field)); field += 8 }
                    if compressed == 0xFFFF_FFFF, field + 8 <= extra + 4 + length { compressed = try field64(directory.u64(field)); field += 8 }
                    if offset == 0xFFFF_FFFF, field + 8 <= extra + 4 + length { offset = try field64(directory.u64(field)) }
                }
                extra += 4 + length
            }
            let mode = external >> 16
            entries.append(ZipEntry(name: name, method: method, crc32: crc, compressedSize: compressed, size: size,
                                    localHeaderOffset: offset, unixMode: madeBy == 3 && mode != 0 ? mode : nil))
            cursor = end
        }
    }

    static func findBackwards(_ data: Data, signature: UInt32) -> Int? {
        var index = data.count - 22
        while index >= 0 {
            if data.u32(index) == signature { return index }
            index -= 1
        }
        return nil
    }

    /// Where a member's data starts: after its local header, whose extra field may differ from the central one.
    func dataOffset(_ entry: ZipEntry) async throws -> Int64 {
        let header = try await source.read(at: entry.localHeaderOffset, count: ZipLocalHeader.length)
        guard let start = ZipLocalHeader.dataStart([UInt8](header), at: entry.localHeaderOffset) else {
            throw PipError.wheel("\(label): local header of \(entry.name) is corrupt")
        }
        return start
    }

    /// A small member's bytes (METADATA, WHEEL, RECORD, entry_points.txt), checked against its CRC.
    public func contents(_ entry: ZipEntry, limit: Int64 = 64 << 20) async throws -> Data {
        guard entry.size <= limit, entry.compressedSize <= limit else {
            throw PipError.wheel("\(label): \(entry.name) is larger than \(limit) bytes")
        }
        let start = try await dataOffset(entry)
        let raw = try await source.read(at: start, count: Int(entry.compressedSize))
        var output = Data()
        try Self.decode(raw, entry, label: label) { output.append(contentsOf: $0) }
        return output
    }

    /// Streams a member through `sink` in pieces, inflating as it reads, and checks size and CRC.
    func stream(_ entry: ZipEntry, _ sink: (UnsafeRawBufferPointer) throws -> Void) async throws {
        let start = try await dataOffset(entry)
        let inflater = try Self.inflater(entry, label: label)
        var offset: Int64 = 0
        while offset < entry.compressedSize {
            let count = Int(min(1 << 20, entry.compressedSize - offset))
            let piece = try await source.read(at: start + offset, count: count)
            try Self.wheelErrors { try piece.withUnsafeBytes { try inflater.feed($0, sink) } }
            offset += Int64(count)
        }
        try Self.wheelErrors { try inflater.finish() }
    }

    static func decode(_ raw: Data, _ entry: ZipEntry, label: String, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let inflater = try inflater(entry, label: label)
        try wheelErrors {
            try raw.withUnsafeBytes { try inflater.feed($0, sink) }
            try inflater.finish()
        }
    }

    static func inflater(_ entry: ZipEntry, label: String) throws -> MemberInflater {
        try wheelErrors { try MemberInflater(method: entry.method, size: entry.size, crc32: entry.crc32, label: "\(label): \(entry.name)") }
    }

    /// The member's own problems (its data, size or CRC) as errors about the wheel, in the words pip's users know.
    static func wheelErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let ArchiveError.read(member, detail) {
            throw PipError.wheel("\(member) \(detail)")
        }
    }
}

extension Data {
    func u16(_ offset: Int) -> UInt16 {
        let base = startIndex + offset
        return UInt16(self[base]) | UInt16(self[base + 1]) << 8
    }

    func u32(_ offset: Int) -> UInt32 {
        let base = startIndex + offset
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(self[base + $1]) << (8 * UInt32($1)) }
    }

    func u64(_ offset: Int) -> UInt64 { UInt64(u32(offset)) | UInt64(u32(offset + 4)) << 32 }
}
