import AsyncHTTPClient
import Archive
import Foundation
import HTTP
import NIOCore
import OCI
import Progress

/// A manifest or index as the registry sent it.
public struct FetchedManifest: Sendable {
    public var data: Data
    public var mediaType: String
    public var digest: Digest
}

extension RegistryClient {
    /// Every manifest type Kiln reads; distribution 2.8.2 hides OCI manifests from clients that omit them.
    static let manifestAccept = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList,
                                 MediaType.dockerManifest].joined(separator: ", ")

    /// GETs a manifest by tag or digest, checking its size, digest (when asked by digest) and media type.
    public func manifest(_ repository: String, reference: String) async throws -> FetchedManifest {
        let path = url("/v2/\(repository)/manifests/\(reference)")
        let response = try await send([.pull(repository)]) {
            var request = HTTPClientRequest(url: path)
            request.headers.add(name: "Accept", value: Self.manifestAccept)
            return request
        }
        if response.status == .notFound { throw RegistryError.notFound("manifest \(registry)/\(repository):\(reference)") }
        guard response.status == .ok else { throw await failure(response, method: "GET", url: path) }
        try response.refuseDeclaredLength(over: Layout.maxJSONBlobSize, from: path)
        let body = try await response.body.collect(upTo: Layout.maxJSONBlobSize, from: path)
        let data = Data(body.readableBytesView)
        let digest = Digest.sha256(of: data)
        if let wanted = try? Digest(parsing: reference), wanted != digest {
            throw RegistryError.digestMismatch(what: "manifest \(registry)/\(repository)@\(reference)", expected: wanted.description, actual: digest.description)
        }
        struct Typed: Decodable { var mediaType: String? }
        let declared = (try? JSONDecoder().decode(Typed.self, from: data))?.mediaType
        let contentType = response.headers.first(name: "Content-Type")?.split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard let mediaType = declared ?? contentType else {
            throw RegistryError.protocolViolation("manifest \(repository):\(reference) has no media type")
        }
        return FetchedManifest(data: data, mediaType: mediaType, digest: digest)
    }

    /// The digest the registry has under `reference` (HEAD, Docker-Content-Digest), or nil when absent.
    public func manifestDigest(_ repository: String, reference: String) async throws -> Digest? {
        let path = url("/v2/\(repository)/manifests/\(reference)")
        let response = try await send([.pull(repository)]) {
            var request = HTTPClientRequest(url: path)
            request.method = .HEAD
            request.headers.add(name: "Accept", value: Self.manifestAccept)
            return request
        }
        switch response.status {
        case .ok:
            if let digest = try? Digest(parsing: reference) { return digest }
            guard let header = response.headers.first(name: "Docker-Content-Digest"), let digest = try? Digest(parsing: header) else {
                throw RegistryError.protocolViolation("HEAD \(repository):\(reference) answered without Docker-Content-Digest")
            }
            return digest
        case .notFound: return nil
        default: throw await failure(response, method: "HEAD", url: path)
        }
    }

    /// Whether the repository has the blob (HEAD). A server error (after the retries) counts as "no":
    /// the caller uploads the blob again, and the upload's digest check decides. distribution answers 500
    /// for a blob whose write was cut off by a crash, and a new upload repairs it.
    public func blobExists(_ repository: String, digest: Digest, scope: Scope? = nil) async throws -> Bool {
        let path = url("/v2/\(repository)/blobs/\(digest)")
        let response = try await send([scope ?? .pull(repository)]) {
            var request = HTTPClientRequest(url: path)
            request.method = .HEAD
            return request
        }
        switch response.status {
        case .ok: return true
        case .notFound: return false
        case let status where status.code >= 500: return false
        default: throw await failure(response, method: "HEAD", url: path)
        }
    }

    /// Opens a blob for streaming (GET, redirects followed without Authorization); the caller reads the body.
    public func openBlob(_ repository: String, digest: Digest) async throws -> HTTPClientResponse {
        let location = url("/v2/\(repository)/blobs/\(digest)")
        let response = try await send([.pull(repository)]) { HTTPClientRequest(url: location) }
        guard response.status == .ok else { throw await failure(response, method: "GET", url: location) }
        return response
    }

    /// Downloads a blob to `path`, hashing as it streams. A connection lost mid-body resumes with
    /// `Range: bytes=N-` (a server that answers 200 instead of 206 starts it over). A digest mismatch
    /// deletes the file and throws, as does a body longer than `size`, the length the manifest declares,
    /// so an endless answer cannot fill the disk.
    public func downloadBlob(_ repository: String, digest: Digest, size: Int64, to path: String) async throws -> Int64 {
        let location = url("/v2/\(repository)/blobs/\(digest)")
        // The manifest says how long the blob is: its disk is reserved up front (`FileSink.reserve`).
        func sink() throws -> HashingSink {
            let file = try FileSink(path: path)
            file.reserve(size)
            return HashingSink(next: file)
        }
        var hash = try sink()
        let progress = Progress.start("pull \(registry)/\(repository) \(digest.shortDescription)", total: size)
        defer { progress.fail() }
        var attempt = 1
        while true {
            let have = hash.count
            let response = try await send([.pull(repository)]) {
                var request = HTTPClientRequest(url: location)
                if have > 0 { request.headers.add(name: "Range", value: "bytes=\(have)-") }
                return request
            }
            if response.status == .ok, have > 0 {
                hash = try sink()
            } else if response.status != .ok && !(response.status == .partialContent && have > 0) {
                unlink(path)
                throw await failure(response, method: "GET", url: location)
            }
            do {
                try response.refuseDeclaredLength(over: Int(clamping: size - hash.count), from: location)
                try await response.body.forEach(upTo: size - hash.count, from: location) { buffer in
                    try buffer.withUnsafeReadableBytes { try hash.write($0) }
                    progress.advance(by: Int64(buffer.readableBytes))
                }
                break
            } catch {
                var final = error is ArchiveError
                if case HTTPError.tooLarge = error { final = true }
                guard attempt < Self.retryPolicy.maxAttempts, !final else {
                    unlink(path)
                    throw error as? RegistryError ?? RegistryError.network(url: SafeURL(location), detail: HTTPError.explain(error))
                }
                options.log?("resuming \(digest) from byte \(hash.count) after: \(error)")
                attempt += 1
            }
        }
        try hash.finish()
        guard hash.digest == digest else {
            unlink(path)
            throw RegistryError.digestMismatch(what: "blob from \(registry)/\(repository)", expected: digest.description, actual: hash.digest.description)
        }
        progress.finish()
        return hash.count
    }
}
