import AsyncHTTPClient
import NIOCore

extension HTTPClientResponse.Body {
    /// The whole body, at most `limit` bytes, delivered at `Pace.current`. A longer one is
    /// `HTTPError.tooLarge` naming `url` (the URL redacts itself), rather than NIO's bare
    /// `NIOTooManyBytesError`, so a server that sends a huge, endless or trickling answer gets a one-line
    /// error and costs at most `limit` bytes of memory.
    public func collect(upTo limit: Int, from url: String, pace: Pace = .current) async throws -> ByteBuffer {
        var collected = ByteBuffer()
        try await forEach(upTo: limit, from: url, pace: pace) { buffer in
            var buffer = buffer
            collected.writeBuffer(&buffer)
        }
        return collected
    }

    /// Calls `body` with each piece as it arrives, until the end or `limit` bytes; more is
    /// `HTTPError.tooLarge`, and a stall or trickle is `HTTPError.tooSlow` (see `Pace`).
    public func forEach(upTo limit: Int64, from url: String, pace: Pace = .current,
                        _ body: (ByteBuffer) throws -> Void) async throws {
        let safe = SafeURL(url)
        var meter = pace.meter(safe)
        var total: Int64 = 0
        var pieces = makeAsyncIterator()
        while true {
            // Only the transport's failures are explained here; `body`'s own errors pass through as they are.
            let next: ByteBuffer?
            do {
                next = try await pieces.next()
            } catch let error as HTTPClientError where error == .readTimeout {
                throw HTTPError.tooSlow(safe, bytes: 0, seconds: pace.seconds)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw HTTPError.broken(safe, HTTPError.explain(error))
            }
            guard let buffer = next else { return }
            total += Int64(buffer.readableBytes)
            if total > limit { throw HTTPError.tooLarge(safe, limit: Int(clamping: limit)) }
            try meter.record(buffer.readableBytes)
            try body(buffer)
        }
    }

    /// `forEach` with an `Int` limit.
    public func forEach(upTo limit: Int, from url: String, pace: Pace = .current,
                        _ body: (ByteBuffer) throws -> Void) async throws {
        try await forEach(upTo: Int64(limit), from: url, pace: pace, body)
    }

    /// Reads and drops an answer that is not wanted (an error's body, a retried answer), so the connection
    /// can be reused; at most 64 KiB, within the pace, and any failure is ignored.
    public func discard(from url: String) async {
        _ = try? await collect(upTo: 64 * 1024, from: url)
    }
}

extension HTTPClientResponse {
    /// Refuses an answer whose `Content-Length` already says it is over `limit`, before reading any of it.
    public func refuseDeclaredLength(over limit: Int, from url: String) throws {
        if let declared = headers.first(name: "Content-Length").flatMap(Int64.init), declared > Int64(limit) {
            throw HTTPError.tooLarge(SafeURL(url), limit: limit)
        }
    }
}
