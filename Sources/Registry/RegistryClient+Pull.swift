import AsyncHTTPClient
import Archive
import Foundation
import NIOCore
import OCI

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
        let body = try await response.body.collect(upTo: Layout.maxJSONBlobSize)
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

    /// Whether the repository has the blob (HEAD).
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
        default: throw await failure(response, method: "HEAD", url: path)
        }
    }

    /// Downloads a blob to `path`, hashing as it streams; a mismatch deletes the file and throws.
    public func downloadBlob(_ repository: String, digest: Digest, to path: String) async throws -> Int64 {
        let location = url("/v2/\(repository)/blobs/\(digest)")
        let response = try await send([.pull(repository)]) { HTTPClientRequest(url: location) }
        guard response.status == .ok else { throw await failure(response, method: "GET", url: location) }
        let sink = try FileSink(path: path)
        let hash = HashingSink(next: sink)
        do {
            for try await buffer in response.body {
                try buffer.withUnsafeReadableBytes { try hash.write($0) }
            }
            try hash.finish()
        } catch {
            unlink(path)
            throw error as? RegistryError ?? RegistryError.network(url: location, detail: "\(error)")
        }
        guard hash.digest == digest else {
            unlink(path)
            throw RegistryError.digestMismatch(what: "blob from \(registry)/\(repository)", expected: digest.description, actual: hash.digest.description)
        }
        return hash.count
    }
}
