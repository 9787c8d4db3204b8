import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OCI

extension RegistryClient {
    /// Asks the registry to mount `digest` from `source` into `repository`; true when it did (201).
    public func mountBlob(_ repository: String, digest: Digest, from source: String) async throws -> Bool {
        let path = url("/v2/\(repository)/blobs/uploads/?mount=\(digest)&from=\(source)")
        let response = try await send([.push(repository), .pull(source)]) {
            var request = HTTPClientRequest(url: path)
            request.method = .POST
            request.headers.add(name: "Content-Length", value: "0")
            return request
        }
        _ = try? await response.body.collect(upTo: 64 * 1024)
        switch response.status {
        case .created: return true
        case .accepted:
            // The registry opened an upload session instead; close it, the caller uploads normally.
            if let location = response.headers.first(name: "Location") {
                var cancel = HTTPClientRequest(url: resolve(location))
                cancel.method = .DELETE
                try? await authorize(&cancel, scopes: [.push(repository)])
                _ = try? await execute(cancel)
            }
            return false
        default: throw await failure(response, method: "POST", url: path)
        }
    }

    /// Uploads the file at `path` as blob `digest`: POST, one streamed PATCH, then PUT `?digest=`.
    /// A session the registry forgets (BLOB_UPLOAD_INVALID/UNKNOWN) is restarted once from the POST.
    public func uploadBlob(_ repository: String, digest: Digest, size: Int64, from path: String) async throws {
        do {
            try await uploadOnce(repository, digest: digest, size: size, from: path)
        } catch let RegistryError.http(status, _, _, code, _) where status == 404 && (code == "BLOB_UPLOAD_INVALID" || code == "BLOB_UPLOAD_UNKNOWN") {
            try await uploadOnce(repository, digest: digest, size: size, from: path)
        }
    }

    func uploadOnce(_ repository: String, digest: Digest, size: Int64, from path: String) async throws {
        let start = url("/v2/\(repository)/blobs/uploads/")
        let opened = try await send([.push(repository)]) {
            var request = HTTPClientRequest(url: start)
            request.method = .POST
            request.headers.add(name: "Content-Length", value: "0")
            return request
        }
        _ = try? await opened.body.collect(upTo: 64 * 1024)
        guard opened.status == .accepted, let first = opened.headers.first(name: "Location") else {
            throw await failure(opened, method: "POST", url: start)
        }
        let patchURL = resolve(first)
        let patched = try await send([.push(repository)]) {
            var request = HTTPClientRequest(url: patchURL)
            request.method = .PATCH
            request.headers.add(name: "Content-Type", value: "application/octet-stream")
            request.body = .stream(FileChunks(path: path), length: .known(size))
            return request
        }
        _ = try? await patched.body.collect(upTo: 64 * 1024)
        guard patched.status == .accepted || patched.status == .noContent else {
            throw await failure(patched, method: "PATCH", url: patchURL)
        }
        // Always continue from the newest Location: 2.8.2 encodes the upload offset in it.
        let last = resolve(patched.headers.first(name: "Location") ?? first)
        let putURL = last + (last.contains("?") ? "&" : "?") + "digest=\(digest)"
        let done = try await send([.push(repository)]) {
            var request = HTTPClientRequest(url: putURL)
            request.method = .PUT
            request.headers.add(name: "Content-Length", value: "0")
            return request
        }
        _ = try? await done.body.collect(upTo: 64 * 1024)
        guard done.status == .created else { throw await failure(done, method: "PUT", url: putURL) }
        if let echoed = done.headers.first(name: "Docker-Content-Digest"), echoed != digest.description {
            throw RegistryError.digestMismatch(what: "uploaded blob", expected: digest.description, actual: echoed)
        }
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
        _ = try? await response.body.collect(upTo: 64 * 1024)
        guard response.status == .created else { throw await failure(response, method: "PUT", url: path) }
        let digest = Digest.sha256(of: data)
        if let echoed = response.headers.first(name: "Docker-Content-Digest"), echoed != digest.description {
            throw RegistryError.digestMismatch(what: "manifest \(repository):\(reference)", expected: digest.description, actual: echoed)
        }
    }

    /// Resolves a `Location` header, which may be relative, against the registry.
    func resolve(_ location: String) -> String {
        if location.hasPrefix("http://") || location.hasPrefix("https://") { return location }
        return baseURL + (location.hasPrefix("/") ? location : "/" + location)
    }
}

/// A file read in 1 MiB pieces as an async sequence, so an upload streams it without holding it.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String

    struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle?
        mutating func next() async throws -> ByteBuffer? {
            guard let handle, let data = try handle.read(upToCount: 1 << 20), !data.isEmpty else {
                try handle?.close()
                return nil
            }
            return ByteBuffer(bytes: data)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: FileHandle(forReadingAtPath: path)) }
}
