import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OCI
import Progress

extension RegistryClient {
    /// Asks the registry to mount `digest` from `source` into `repository`; true when it did (201).
    public func mountBlob(_ repository: String, digest: Digest, from source: String) async throws -> Bool {
        let path = url("/v2/\(repository)/blobs/uploads/?mount=\(digest)&from=\(source)")
        let response = try await send([.push(repository), .pull(source)]) { Self.emptyRequest(.POST, path) }
        await response.body.discard(from: path)
        switch response.status {
        case .created: return true
        case .accepted:
            // The registry opened an upload session instead; close it, the caller uploads normally.
            if let location = response.headers.first(name: "Location") { await cancelUpload(repository, at: resolve(location)) }
            return false
        default: throw await failure(response, method: "POST", url: path)
        }
    }

    /// Uploads a blob: POST, then one streamed PATCH (or Content-Range chunks of `options.chunkSize`,
    /// raised to the registry's OCI-Chunk-Min-Length, for a file), then PUT `?digest=`. A session the
    /// registry forgets (BLOB_UPLOAD_INVALID/UNKNOWN) is restarted once from the POST.
    public func uploadBlob(_ repository: String, digest: Digest, size: Int64, from bytes: BlobBytes) async throws {
        do {
            try await uploadOnce(repository, digest: digest, size: size, from: bytes)
        } catch let RegistryError.http(status, _, _, code, _) where status == 404 && (code == "BLOB_UPLOAD_INVALID" || code == "BLOB_UPLOAD_UNKNOWN") {
            try await uploadOnce(repository, digest: digest, size: size, from: bytes)
        }
    }

    func uploadOnce(_ repository: String, digest: Digest, size: Int64, from bytes: BlobBytes) async throws {
        let progress = Progress.start("push \(registry)/\(repository) \(digest.shortDescription)", total: size)
        do {
            try await uploadOnce(repository, digest: digest, size: size, from: bytes, progress: progress)
            progress.finish()
        } catch {
            progress.fail()
            throw error
        }
    }

    func uploadOnce(_ repository: String, digest: Digest, size: Int64, from bytes: BlobBytes, progress: ProgressStep) async throws {
        let opened = try await openUpload(repository)
        var location = opened.location
        let minimum = opened.minimumChunk
        if case let .file(path) = bytes, let chunk = options.chunkSize, size > max(chunk, minimum) {
            let step = max(chunk, minimum)
            var offset: Int64 = 0
            while offset < size {
                let length = min(step, size - offset)
                location = try await patch(location, body: .file(path), offset: offset, length: length, ranged: true, progress: progress)
                offset += length
            }
        } else {
            location = try await patch(location, body: bytes, offset: 0, length: size, ranged: false, progress: progress)
        }
        try await commitUpload(repository, at: location, digest: digest, what: "uploaded blob")
    }

    /// POST for an upload session: its Location, and the smallest chunk the registry takes
    /// (`OCI-Chunk-Min-Length`, 0 when it says nothing).
    func openUpload(_ repository: String) async throws -> (location: String, minimumChunk: Int64) {
        let start = url("/v2/\(repository)/blobs/uploads/")
        let opened = try await send([.push(repository)]) { Self.emptyRequest(.POST, start) }
        await opened.body.discard(from: start)
        guard opened.status == .accepted, let first = opened.headers.first(name: "Location") else {
            throw await failure(opened, method: "POST", url: start)
        }
        return (resolve(first), opened.headers.first(name: "OCI-Chunk-Min-Length").flatMap { Int64($0) } ?? 0)
    }

    /// PUT `?digest=` on the session at `location`, which commits its bytes as `digest`; the digest the
    /// registry reports must be that one (`what` names the blob in the error).
    func commitUpload(_ repository: String, at location: String, digest: Digest, what: String) async throws {
        let putURL = location + (location.contains("?") ? "&" : "?") + "digest=\(digest)"
        let done = try await send([.push(repository)]) { Self.emptyRequest(.PUT, putURL) }
        await done.body.discard(from: putURL)
        guard done.status == .created else { throw await failure(done, method: "PUT", url: putURL) }
        if let echoed = done.headers.first(name: "Docker-Content-Digest"), echoed != digest.description {
            throw RegistryError.digestMismatch(what: what, expected: digest.description, actual: echoed)
        }
    }

    /// DELETE on an upload session no longer wanted, as far as the registry allows; failures are ignored,
    /// since the registry forgets idle sessions anyway.
    func cancelUpload(_ repository: String, at location: String) async {
        var cancel = HTTPClientRequest(url: location)
        cancel.method = .DELETE
        try? await authorize(&cancel, scopes: [.push(repository)])
        if let response = try? await execute(cancel) { await response.body.discard(from: location) }
    }

    /// One PATCH of `length` bytes from `offset`; returns the Location to continue from (2.8.2 encodes
    /// the upload offset in it, so the newest one must always be used).
    func patch(_ location: String, body: BlobBytes, offset: Int64, length: Int64, ranged: Bool, progress: ProgressStep? = nil) async throws -> String {
        let repository = Self.repository(inUploadURL: location) ?? ""
        var source: HTTPClientResponse?
        if case let .remote(client, from, digest) = body { source = try await client.openBlob(from, digest: digest) }
        let patched = try await send([.push(repository)]) {
            var request = HTTPClientRequest(url: location)
            request.method = .PATCH
            request.headers.add(name: "Content-Type", value: "application/octet-stream")
            if ranged { request.headers.add(name: "Content-Range", value: "\(offset)-\(offset + length - 1)") }
            switch body {
            case let .file(path): request.body = .stream(FileChunks(path: path, offset: offset, length: length, progress: progress), length: .known(length))
            case let .data(data):
                progress?.advance(by: Int64(data.count))
                request.body = .bytes(ByteBuffer(bytes: data))
            case .remote:
                guard let stream = source?.body else { throw RegistryError.protocolViolation("source blob stream already used") }
                source = nil
                request.body = .stream(stream, length: .known(length))
            }
            return request
        }
        await patched.body.discard(from: location)
        guard patched.status == .accepted || patched.status == .noContent else {
            throw await failure(patched, method: "PATCH", url: location)
        }
        return resolve(patched.headers.first(name: "Location") ?? location)
    }

    /// `…/v2/<name>/blobs/uploads/<id>` → `<name>`, for the token scope of a PATCH.
    static func repository(inUploadURL url: String) -> String? {
        guard let v2 = url.range(of: "/v2/"), let uploads = url.range(of: "/blobs/uploads/") else { return nil }
        return String(url[v2.upperBound..<uploads.lowerBound])
    }

    /// PUTs a manifest under a tag or digest and checks the digest the registry reports.
    public func putManifest(_ repository: String, reference: String, data: Data, mediaType: String) async throws {
        let path = url("/v2/\(repository)/manifests/\(reference)")
        let response = try await send([.push(repository)]) {
            var request = HTTPClientRequest(url: path)
            request.method = .PUT
            request.headers.add(name: "Content-Type", value: mediaType)
            request.body = .bytes(ByteBuffer(bytes: data))
            return request
        }
        await response.body.discard(from: path)
        guard response.status == .created else { throw await failure(response, method: "PUT", url: path) }
        let digest = Digest.sha256(of: data)
        if let echoed = response.headers.first(name: "Docker-Content-Digest"), echoed != digest.description {
            throw RegistryError.digestMismatch(what: "manifest \(repository):\(reference)", expected: digest.description, actual: echoed)
        }
    }

    /// A body-less POST or PUT; Content-Length 0 is explicit, as some registries require it.
    static func emptyRequest(_ method: HTTPMethod, _ url: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Content-Length", value: "0")
        return request
    }

    /// Resolves a `Location` header, which may be relative, against the registry.
    func resolve(_ location: String) -> String {
        if location.hasPrefix("http://") || location.hasPrefix("https://") { return location }
        return baseURL + (location.hasPrefix("/") ? location : "/" + location)
    }
}

/// Where a blob's bytes come from when it is uploaded.
public enum BlobBytes: Sendable {
    case file(String)
    case data(Data)
    /// Streamed from another registry while it is uploaded, never held whole.
    case remote(RegistryClient, repository: String, digest: Digest)
}

/// A byte range of a file read in 1 MiB pieces as an async sequence, so an upload streams it.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String
    var offset: Int64 = 0
    var length: Int64 = .max
    /// Counts the bytes as the upload takes them (it reads only as fast as it sends).
    var progress: ProgressStep?

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle?
        var left: Int64
        let progress: ProgressStep?
        mutating func next() async throws -> ByteBuffer? {
            guard let handle, left > 0, let data = try handle.read(upToCount: Int(Swift.min(1 << 20, left))), !data.isEmpty else {
                try handle?.close()
                return nil
            }
            left -= Int64(data.count)
            progress?.advance(by: Int64(data.count))
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        let handle = FileHandle(forReadingAtPath: path)
        try? handle?.seek(toOffset: UInt64(offset))
        return AsyncIterator(handle: handle, left: length, progress: progress)
    }
}
