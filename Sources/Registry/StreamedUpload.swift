import Archive
import AsyncHTTPClient
import Foundation
import HTTP
import NIOCore
import NIOHTTP1
import OCI
import Progress

/// Why a streamed upload ended without the blob in the registry. None of these fails a build: the
/// blob's file is complete, and it goes up from there (`RegistryClient.uploadBlob`) instead.
public enum StreamedUploadError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The upload took no bytes for a whole pace window (`KILN_HTTP_TIMEOUT`); the writer went on without it.
    case stalled(seconds: Int)
    /// The layer failed before it was complete, so there was nothing to upload.
    case abandoned
    /// The upload was cancelled (the build failed, or its task was cancelled).
    case cancelled
    /// The registry answered before the layer was complete.
    case earlyAnswer
    /// The registry received a different number of bytes than were written.
    case sizeMismatch(expected: Int64, range: String)
    /// The registry or the connection failed; the text is the `RegistryError`'s, already redacted.
    case registry(String)

    public var description: String {
        switch self {
        case let .stalled(seconds): return "the upload took nothing for \(seconds) s"
        case .abandoned: return "the layer was not finished"
        case .cancelled: return "cancelled"
        case .earlyAnswer: return "the registry answered before the layer was complete"
        case let .sizeMismatch(expected, range): return "the registry holds bytes \(range), not the \(expected) written"
        case let .registry(detail): return detail
        }
    }
}

/// One blob uploaded while it is being written, as go-containerregistry's `stream.Layer` with
/// `remote.Write` does: POST for an upload session, one PATCH whose body is the bytes as they come
/// (chunked transfer encoding, no length: the size is not known yet), then `PUT ?digest=` once the writer
/// has finished and knows the digest.
///
/// The writer (a `LayerWriter` on its own thread) feeds a `BytePipe` of a few MiB; the request reads from
/// it. The POST goes first, through the client's auth and retry machinery, so the token for the push is
/// in hand before the body starts: a streamed body cannot be sent again after a 401. Nothing here is
/// retried: whatever goes wrong ends the stream, the writer carries on to the file alone, and
/// `outcome()` says why, so the caller uploads the file the ordinary way.
public final class StreamedUpload: LayerStream, Sendable {
    /// Bytes that may wait between the writer and the upload: enough to ride out a slow moment, small
    /// enough that a 1 GiB layer costs a few MiB.
    public static let defaultCapacity = 4 << 20

    private let pipe: BytePipe
    private let task: Task<Result<Digest, StreamedUploadError>, Never>

    /// Starts uploading to `repository` through the client `client` gives (called once, in the upload's
    /// task). `title` names the progress step; the writer waits at most `stall` for a full pipe to drain.
    public init(repository: String, title: String, capacity: Int = StreamedUpload.defaultCapacity,
                stall: Duration = Pace.current.window, client: @escaping @Sendable () async throws -> RegistryClient) {
        let progress = Progress.start(title)
        let pipe = BytePipe(capacity: capacity, stall: stall, progress: progress)
        self.pipe = pipe
        task = Task {
            do {
                let digest = try await client().streamBlob(repository, from: pipe)
                progress.setTotal(pipe.blob?.size)
                progress.finish()
                return .success(digest)
            } catch {
                let reason = (error as? StreamedUploadError) ?? .registry("\(error)")
                // The writer stops feeding at once and the buffer is dropped.
                pipe.fail(reason)
                progress.fail()
                return .failure(reason)
            }
        }
    }

    /// The writer's bytes; throws once the upload has failed, and the writer then stops calling.
    public func write(_ bytes: UnsafeRawBufferPointer) throws { try pipe.write(bytes) }

    /// The blob is complete: the body ends, and the upload is committed under `digest`.
    public func finish(digest: Digest, size: Int64) { pipe.end(digest: digest, size: size) }

    /// The blob will not be complete: the upload is dropped.
    public func abandon() { pipe.fail(.abandoned) }

    /// Stops the upload wherever it is.
    public func cancel() {
        pipe.fail(.cancelled)
        task.cancel()
    }

    /// Waits for the upload: the digest now in the registry, or why it is not there.
    public func outcome() async -> Result<Digest, StreamedUploadError> { await task.value }
}

extension RegistryClient {
    /// POST, one PATCH streaming `pipe` with no length, then PUT `?digest=` with the digest the pipe's
    /// writer ended it with. Returns that digest once the registry has it. An upload session opened
    /// and then abandoned is cancelled (DELETE), as far as the registry allows.
    func streamBlob(_ repository: String, from pipe: BytePipe) async throws -> Digest {
        let location = try await openUpload(repository).location
        do {
            return try await streamBody(repository, to: location, from: pipe)
        } catch {
            await cancelUpload(repository, at: location)
            throw error
        }
    }

    private func streamBody(_ repository: String, to location: String, from pipe: BytePipe) async throws -> Digest {
        var request = HTTPClientRequest(url: location)
        request.method = .PATCH
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        request.body = .stream(pipe, length: .unknown)
        // The token the POST earned; a 401 now is a failure like any other, since the body cannot be replayed.
        try await authorize(&request, scopes: [.push(repository)])
        let patched = try await execute(request)
        guard patched.status == .accepted || patched.status == .noContent else {
            throw await failure(patched, method: "PATCH", url: location)
        }
        await patched.body.discard(from: location)
        guard let blob = pipe.blob else { throw StreamedUploadError.earlyAnswer }
        // `Range: 0-<last offset>` (some registries write `bytes=0-…`) must cover exactly what was written.
        if let range = patched.headers.first(name: "Range"), let last = range.split(separator: "-").last.flatMap({ Int64($0) }),
           last != blob.size - 1 {
            throw StreamedUploadError.sizeMismatch(expected: blob.size, range: range)
        }
        let next = resolve(patched.headers.first(name: "Location") ?? location)
        try await commitUpload(repository, at: next, digest: blob.digest, what: "streamed blob")
        return blob.digest
    }
}
