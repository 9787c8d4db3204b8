@testable import Archive
import Foundation
import Testing

/// `BackgroundSink` hands bytes to the next stage on a thread of its own, gathering small writes into one piece:
/// the bytes and their order never change, and a failure of the next stage still surfaces.
@Suite struct BackgroundSinkTests {
    /// Records what reaches it, and fails once it has taken `failAfter` bytes.
    final class Recorder: ByteSink, @unchecked Sendable {
        var bytes: [UInt8] = []
        var writes = 0
        var finished = false
        let failAfter: Int

        init(failAfter: Int = .max) { self.failAfter = failAfter }

        func write(_ bytes: UnsafeRawBufferPointer) throws {
            writes += 1
            self.bytes.append(contentsOf: bytes)
            if self.bytes.count > failAfter { throw ArchiveError.write("the disk is full") }
        }

        func finish() throws { finished = true }
    }

    /// Thousands of small writes (as an environment layer's gzip headers and trailers are), owned blocks and large
    /// borrowed ones, mixed: the same bytes in the same order, in far fewer hand-offs than writes.
    @Test func smallWritesAreGatheredInOrder() throws {
        let recorder = Recorder()
        let sink = BackgroundSink(next: recorder)
        var expected: [UInt8] = []
        var generator = SystemRandomNumberGenerator()
        var writes = 0
        for round in 0..<3_000 {
            let small = (0..<Int.random(in: 1...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            try small.withUnsafeBytes { try sink.write($0) }
            expected += small
            writes += 1
            if round % 500 == 0 {
                var owned = BufferPool.blocks.take()
                owned.append(contentsOf: (0..<(300 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ round) })
                expected += owned
                try sink.write(owned: owned)
                writes += 1
            }
            if round % 700 == 0 {
                let large = [UInt8](repeating: UInt8(truncatingIfNeeded: round), count: 1 << 20)
                try large.withUnsafeBytes { try sink.write($0) }
                expected += large
                writes += 1
            }
        }
        try sink.finish()
        #expect(recorder.finished)
        #expect(recorder.bytes == expected)
        #expect(recorder.writes < writes / 50, "\(recorder.writes) hand-offs for \(writes) writes")
    }

    /// The next stage fails: a later write or the finish throws its error, and nothing after it is written.
    @Test func aFailureOfTheNextStageSurfaces() throws {
        let recorder = Recorder(failAfter: 1 << 20)
        let sink = BackgroundSink(next: recorder)
        let piece = [UInt8](repeating: 1, count: 600 << 10)
        var thrown: Error?
        do {
            for _ in 0..<64 { try piece.withUnsafeBytes { try sink.write($0) } }
            try sink.finish()
        } catch {
            thrown = error
        }
        #expect("\(String(describing: thrown))".contains("the disk is full"))
        #expect(!recorder.finished)
        #expect(recorder.bytes.count <= (1 << 20) + piece.count)
    }
}
