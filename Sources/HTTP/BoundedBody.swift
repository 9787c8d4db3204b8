import AsyncHTTPClient
import NIOCore

extension HTTPClientResponse.Body {
    /// The whole body, at most `limit` bytes. A longer one is `HTTPError.tooLarge` naming `url` (the URL
    /// redacts itself), rather than NIO's bare `NIOTooManyBytesError`, so a server that sends a huge or
    /// endless answer gets a one-line error and costs at most `limit` bytes of memory.
    public func collect(upTo limit: Int, from url: String) async throws -> ByteBuffer {
        do {
            return try await collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw HTTPError.tooLarge(SafeURL(url), limit: limit)
        }
    }
}
