@testable import Archive
import CZlib
import Foundation
import Testing
import TestSupport

/// Layer blobs are read through ISA-L (`GzipFileReader`): every member of a multi-member file, wherever the
/// members meet relative to its 1 MiB reads, and a damaged member refused.
@Suite struct GzipFileReaderTests {
    /// A gzip member of `data` as stored deflate blocks: 10 + data + 5 per 65,535 bytes + 8 bytes long.
    static func member(_ data: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]
        bytes += Block.stored(data, last: true)
        let crc = UInt32(data.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) })
        bytes += GzipSink.trailer(crc: crc, length: UInt64(data.count))
        return bytes
    }

    static func pattern(_ count: Int, seed: UInt8) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) } }

    func decompress(_ bytes: [UInt8]) throws -> [UInt8] {
        let directory = try TemporaryDirectory()
        let path = directory.file("blob.gz")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        var output: [UInt8] = []
        try Decompressor.stream(path: path) { output += $0 }
        return output
    }

    /// The first member ends 2, 1 and 0 bytes before a 1 MiB read ends, so the next header's magic bytes straddle it.
    @Test(arguments: [2, 1, 0])
    func membersMeetingAtAReadBoundaryAreAllRead(before end: Int) throws {
        // 10 + n + 5·16 + 8 bytes = 1 MiB − end.
        let first = Self.pattern((1 << 20) - end - 98, seed: 1), second = Self.pattern(70_000, seed: 2), third = Self.pattern(10, seed: 3)
        let file = Self.member(first) + Self.member(second) + Self.member(third)
        #expect(Self.member(first).count == (1 << 20) - end)
        #expect(try decompress(file) == first + second + third)
    }

    @Test func aDamagedMemberIsRefused() throws {
        var file = Self.member(Self.pattern(5000, seed: 4)) + Self.member(Self.pattern(5000, seed: 5))
        file[file.count - 20] ^= 0xff
        #expect(throws: ArchiveError.self) { try decompress(file) }
        let truncated = Array(file.prefix(file.count - 3000))
        #expect(throws: ArchiveError.self) { try decompress(truncated) }
    }
}
