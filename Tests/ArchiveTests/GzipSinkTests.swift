@testable import Archive
import Foundation
import Testing
import TestSupport

/// The adaptive gzip: the integer gate, stored blocks, per-block CRCs joined, one valid stream that gzip,
/// Python and zlib read back, and the same bytes whatever the core count.
@Suite struct GzipSinkTests {
    static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }

    static func text(_ count: Int) -> [UInt8] {
        let words = ["model ", "weight ", "tensor ", "données ", "模型 ", "layer\n"].map { Array($0.utf8) }
        var bytes: [UInt8] = []
        var index = 0
        while bytes.count < count {
            bytes += words[(index * 7 + index / 3) % words.count]
            index += 1
        }
        return Array(bytes.prefix(count))
    }

    /// fp16-like weights: small values around zero, so the high bytes cluster.
    static func weights(_ count: Int) -> [UInt8] {
        let noise = random(count, seed: 7)
        return (0..<count).map { $0 % 2 == 0 ? noise[$0] : (noise[$0] % 8) + 0x38 }
    }

    @Test func theGateSeparatesRandomFromTextAndWeights() {
        let mebibyte = 1 << 20
        #expect(Block.score(Self.random(mebibyte, seed: 1)) < 400)
        #expect(Block.score(Self.text(mebibyte)) > 1_000_000)
        #expect(Block.score(Self.weights(mebibyte)) > 100_000)
        #expect(Block.incompressible(Self.random(mebibyte, seed: 2)))
        #expect(!Block.incompressible(Self.text(mebibyte)))
        #expect(!Block.incompressible(Self.random(100, seed: 3)), "short blocks are always deflated")
    }

    /// Random, text, random, a short tail, and an exact multiple of the block size: every kind of block
    /// boundary, read back by GNU gzip and Python's gzip module, byte for byte.
    @Test(arguments: [(1 << 20) * 3 + 12_345, (1 << 20) * 2, 0], engines)
    func mixedBlocksMakeOneValidStream(size: Int, engine: DeflateEngine) throws {
        let mebibyte = 1 << 20
        var input = Self.random(mebibyte, seed: 4) + Self.text(mebibyte) + Self.random(mebibyte, seed: 5) + Self.text(12_345)
        input = Array(input.prefix(size))
        let directory = try TemporaryDirectory("gzip-sink")
        let path = directory.file("out.gz")
        let sink = try GzipSink(next: try FileSink(path: path), engine: engine)
        try input.withUnsafeBytes { try sink.write($0) }
        try sink.finish()
        try Data(input).write(to: URL(fileURLWithPath: directory.file("in")))
        let gunzipped = try run("/bin/sh", ["-c", "gzip -t \"$1\" && gzip -dc \"$1\" | cmp - \"$2\"", "sh", path, directory.file("in")])
        #expect(gunzipped.status == 0, "\(gunzipped.stderr) \(gunzipped.stdout)")
        let python = try run(pythonPath(), ["-c", "import gzip, sys\nassert gzip.decompress(open(sys.argv[1], 'rb').read()) == open(sys.argv[2], 'rb').read()",
                                            path, directory.file("in")])
        #expect(python.status == 0, "\(python.stderr)")
        // Stored blocks cost 5 bytes per 65,535: the random megabytes barely grow.
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
        if input.count > 2 * mebibyte { #expect(size < 2 * mebibyte + mebibyte / 2 + 4096) }
    }

    /// Both engines where ISA-L's output is the checked one (this machine's CPU), else zlib alone.
    static let engines: [DeflateEngine] = DeflateEngine.isalVerified ? [.isal, .zlib] : [.zlib]

    /// A deflater is reused block after block (the writer's short blocks share one): each block must come out as
    /// a fresh deflater would make it, or the bytes would depend on which blocks ran where.
    @Test(arguments: engines) func aReusedDeflaterGivesAFreshOnesBytes(engine: DeflateEngine) throws {
        let first = Self.text(300_000)
        let second = Array(Self.text(200_000).reversed())
        let dictionary = Array(first.suffix(GzipSink.window))
        let reused = try engine.makeDeflater()
        _ = try reused.deflate(first, dictionary: [], last: false)
        let again = try reused.deflate(second, dictionary: dictionary, last: true)
        let fresh = try engine.makeDeflater().deflate(second, dictionary: dictionary, last: true)
        #expect(again == fresh)
        #expect(again.count < second.count / 2)
    }

    @Test func theEngineComesFromTheMachineOrKILN_DEFLATE() throws {
        #expect(try DeflateEngine.select(nil).get() == (DeflateEngine.isalVerified ? .isal : .zlib))
        #expect(try DeflateEngine.select("zlib").get() == .zlib)
        if DeflateEngine.isalVerified { #expect(try DeflateEngine.select("isal").get() == .isal) }
        #expect(throws: ArchiveError.self) { try DeflateEngine.select("pigz").get() }
        let message = "\(DeflateEngine.select("igzip -1"))"
        #expect(message.contains("KILN_DEFLATE=igzip -1: expected isal or zlib"), "\(message)")
    }

    @Test func storedBlocksFollowRFC1951() {
        let stored = Block.stored(Array(repeating: 0xAB, count: 70_000), last: true)
        #expect(stored.count == 70_000 + 10)
        #expect(Array(stored.prefix(5)) == [0, 0xff, 0xff, 0, 0], "a full first block, not final")
        #expect(Array(stored[65_540..<65_545]) == [1, 0x71, 0x11, 0x8e, 0xee], "the final block holds the remaining 4,465 bytes")
        #expect(Block.stored([], last: true) == [1, 0, 0, 0xff, 0xff])
    }
}
