import Foundation
import NIOCore
import OCI
import Progress

/// A bounded pipe from a synchronous writer thread (the layer writer's) to an async reader (an HTTP
/// request body), for `StreamedUpload`.
///
/// At most `capacity` bytes wait in it, plus the piece being handed over, so memory stays bounded
/// whatever the size of the blob. A writer that finds the pipe full waits (backpressure), but only while
/// the reader keeps taking bytes: when it takes nothing for `stall`, the pipe fails, and the writer goes
/// on without it. Once the pipe has failed, from either end, `write` throws at once and what was buffered
/// is dropped. One reader only: a request body that is sent once, never again.
final class BytePipe: AsyncSequence, @unchecked Sendable {
    typealias Element = ByteBuffer

    private let condition = NSCondition()
    private let capacity: Int
    private let stall: TimeInterval
    private let progress: ProgressStep?
    // Everything below is guarded by `condition`.
    private var chunks: [ByteBuffer] = []
    private var buffered = 0
    /// How many pieces the reader has taken, so a waiting writer can tell progress from a stall.
    private var taken = 0
    private var ended = false
    private var failure: StreamedUploadError?
    private var reader: CheckedContinuation<ByteBuffer?, Error>?
    private var finished: (digest: Digest, size: Int64)?

    /// A pipe holding at most `capacity` bytes, whose writer waits at most `stall` for the reader to take
    /// some; `progress` counts the bytes the reader takes.
    init(capacity: Int, stall: Duration, progress: ProgressStep? = nil) {
        self.capacity = Swift.max(1, capacity)
        let (seconds, attoseconds) = stall.components
        self.stall = Double(seconds) + Double(attoseconds) / 1e18
        self.progress = progress
    }

    /// Hands `bytes` to the reader, waiting while the pipe is full. Throws the pipe's failure, or
    /// `.stalled` when the reader took nothing for a whole `stall`.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        condition.lock()
        defer { condition.unlock() }
        var seen = taken
        var deadline = Date().addingTimeInterval(stall)
        while buffered >= capacity, failure == nil, !ended {
            if taken != seen {
                seen = taken
                deadline = Date().addingTimeInterval(stall)
            }
            if !condition.wait(until: deadline), taken == seen, buffered >= capacity {
                failLocked(.stalled(seconds: Int(stall.rounded(.up))))
            }
        }
        if let failure { throw failure }
        guard !ended else { throw StreamedUploadError.abandoned }
        let piece = ByteBuffer(bytes: bytes)
        if let reader {
            self.reader = nil
            taken += 1
            progress?.advance(by: Int64(piece.readableBytes))
            reader.resume(returning: piece)
        } else {
            chunks.append(piece)
            buffered += piece.readableBytes
        }
    }

    /// Ends the stream: the reader gets what is buffered, then its end. `digest` and `size` describe
    /// everything written, for whoever completes the upload.
    func end(digest: Digest, size: Int64) {
        condition.lock()
        defer { condition.unlock() }
        guard failure == nil, !ended else { return }
        finished = (digest, size)
        ended = true
        if chunks.isEmpty, let reader {
            self.reader = nil
            reader.resume(returning: nil)
        }
        condition.broadcast()
    }

    /// Fails the pipe (unless it has already failed): the writer's next `write` throws `error`, the reader's
    /// next piece is that error, and what was buffered is dropped.
    func fail(_ error: StreamedUploadError) {
        condition.lock()
        defer { condition.unlock() }
        failLocked(error)
    }

    private func failLocked(_ error: StreamedUploadError) {
        guard failure == nil else { return }
        failure = error
        chunks = []
        buffered = 0
        if let reader {
            self.reader = nil
            reader.resume(throwing: error)
        }
        condition.broadcast()
    }

    /// The blob's digest and size, once the writer has ended the stream; nil before, or after a failure.
    var blob: (digest: Digest, size: Int64)? {
        condition.lock()
        defer { condition.unlock() }
        return failure == nil ? finished : nil
    }

    /// The reader's side: the next piece, nil at the end, or the pipe's failure.
    func next() async throws -> ByteBuffer? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ByteBuffer?, Error>) in
                condition.lock()
                defer { condition.unlock() }
                if let failure {
                    continuation.resume(throwing: failure)
                } else if !chunks.isEmpty {
                    let piece = chunks.removeFirst()
                    buffered -= piece.readableBytes
                    taken += 1
                    progress?.advance(by: Int64(piece.readableBytes))
                    condition.broadcast()
                    continuation.resume(returning: piece)
                } else if ended {
                    continuation.resume(returning: nil)
                } else {
                    reader = continuation
                }
            }
        } onCancel: {
            fail(.cancelled)
        }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let pipe: BytePipe
        func next() async throws -> ByteBuffer? { try await pipe.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pipe: self) }
}
