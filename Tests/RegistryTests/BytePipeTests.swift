import Foundation
import NIOCore
import OCI
@testable import Registry
import Testing

/// The bounded pipe between the layer writer's thread and a streamed upload's body.
@Suite struct BytePipeTests {
    @Test func readerGetsEveryByteInOrderThenTheEndAndTheDigest() async throws {
        // The reader runs on the concurrency pool, which the suite's blocking tests can hold for minutes; this
        // test is about order, not stalls (the next one is), so the writer waits as long as it takes.
        let pipe = BytePipe(capacity: 64, stall: .seconds(900))
        let pieces = (0..<50).map { index in [UInt8](repeating: UInt8(index), count: 10) }
        let digest = Digest.sha256(of: Data(pieces.joined()))
        let writer = Thread {
            for piece in pieces { try? piece.withUnsafeBytes { try pipe.write($0) } }
            pipe.end(digest: digest, size: 500)
        }
        writer.start()
        var received: [UInt8] = []
        for try await buffer in pipe { received += buffer.readableBytesView }
        #expect(received == Array(pieces.joined()))
        #expect(pipe.blob?.digest == digest && pipe.blob?.size == 500)
    }

    @Test func aFullPipeWhoseReaderTakesNothingStallsTheWriterOnlyForTheWindow() throws {
        let pipe = BytePipe(capacity: 16, stall: .milliseconds(300))
        let bytes = [UInt8](repeating: 7, count: 16)
        try bytes.withUnsafeBytes { try pipe.write($0) }
        let start = Date()
        #expect(throws: StreamedUploadError.stalled(seconds: 1)) { try bytes.withUnsafeBytes { try pipe.write($0) } }
        #expect(Date().timeIntervalSince(start) < 5)
        // From then on the writer is told at once, and the pipe holds nothing.
        #expect(throws: StreamedUploadError.stalled(seconds: 1)) { try bytes.withUnsafeBytes { try pipe.write($0) } }
        #expect(pipe.blob == nil)
    }

    @Test func aFailedUploadReleasesABlockedWriter() async throws {
        // The stall window is long on purpose: this test checks the release, not the window (which has its own
        // test), and under the full suite the pool this test resumes on can be held by blocking tests for a minute.
        let pipe = BytePipe(capacity: 16, stall: .seconds(900))
        let bytes = [UInt8](repeating: 1, count: 16)
        try bytes.withUnsafeBytes { try pipe.write($0) }
        // The writer blocks a thread of its own, as the layer writer does, not one of the concurrency pool's.
        let outcome = WriterOutcome()
        let writer = Thread {
            do { try bytes.withUnsafeBytes { try pipe.write($0) } } catch { outcome.set(error as? StreamedUploadError) }
            outcome.finish()
        }
        writer.start()
        try await Task.sleep(for: .milliseconds(200))
        pipe.fail(.registry("answer 500"))
        while !outcome.finished { try await Task.sleep(for: .milliseconds(20)) }
        #expect(outcome.error == .registry("answer 500"))
        let iterator = pipe.makeAsyncIterator()
        await #expect(throws: StreamedUploadError.registry("answer 500")) { _ = try await iterator.next() }
    }
}

/// What a writer thread ended with.
final class WriterOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: StreamedUploadError?
    private var done = false

    func set(_ error: StreamedUploadError?) { lock.withLock { stored = error } }
    func finish() { lock.withLock { done = true } }
    var finished: Bool { lock.withLock { done } }
    var error: StreamedUploadError? { lock.withLock { stored } }
}
