import Foundation
import HTTP
import OCI
import Registry

/// Registry clients for one job, made on first use and shared after: one per registry and repository
/// (credentials may differ by repository), all over the HTTP layer's shared client.
public actor RegistrySession {
    /// How to reach and authenticate to registries.
    public struct Settings: Sendable {
        /// Where credentials come from, in the documented order.
        public var credentials = CredentialStore()
        /// Client settings: plain-HTTP hosts, chunk size, the `--verbose` log.
        public var client = RegistryClient.Options()
        /// A PEM file of CA certificates to trust besides the system's.
        public var caFile: String?

        /// Default settings: the standard credential sources, default client options, system CAs only.
        public init() {}
    }

    /// The settings every client of this session is made with.
    public let settings: Settings
    var clients: [String: RegistryClient] = [:]
    /// Where each blob this session downloaded is, verified against its digest.
    var downloads: [Digest: String] = [:]

    /// A session with no clients yet, using `settings`.
    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// The client for `repository` in `registry`, connecting (and choosing HTTPS or plain HTTP) once.
    public func client(registry: String, repository: String) async throws -> RegistryClient {
        let key = registry + "/" + repository
        if let client = clients[key] { return client }
        let credential = try settings.credentials.credential(for: registry, repository: repository)
        let client = try await RegistryClient.connect(registry: registry, credential: credential,
                                                      http: HTTPClients.shared(caFile: settings.caFile), options: settings.client)
        clients[key] = client
        return client
    }

    /// The client for `reference`'s repository.
    public func client(for reference: Reference) async throws -> RegistryClient {
        try await client(registry: reference.registry, repository: reference.repository)
    }

    /// Downloads a remote blob to `path`, verified, through a hidden sibling renamed into place.
    ///
    /// A blob this session has downloaded before is linked (or copied) from there instead: the base layers the
    /// probe read are what an OCI layout or a docker-archive output gets, not a second download.
    public func download(_ remote: RemoteBlob, digest: Digest, size: Int64, to path: String) async throws {
        if let earlier = localCopy(of: digest) {
            try Atomic.placeBlob(from: earlier, at: path)
            return
        }
        let client = try await client(registry: remote.registry, repository: remote.repository)
        let staging = try Atomic.stagingPath(for: path)
        do {
            _ = try await client.downloadBlob(remote.repository, digest: digest, size: size, to: staging)
            try Atomic.rename(staging, to: path)
        } catch {
            unlink(staging)
            throw error
        }
        downloads[digest] = path
    }

    /// Where this session downloaded the blob `digest`, if it is still there (a docker-archive removes its copies).
    func localCopy(of digest: Digest) -> String? {
        downloads[digest].flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil }
    }

    /// `layers` with every remote blob downloaded into `directory` (created if needed).
    public func downloaded(_ layers: [Layer], into directory: String) async throws -> [Layer] {
        var result = layers
        for index in result.indices {
            guard case let .remote(remote) = result[index].blob else { continue }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = directory + "/" + result[index].descriptor.digest.encoded
            let digest = result[index].descriptor.digest
            if let earlier = localCopy(of: digest) {
                result[index].blob = .file(earlier)
                continue
            }
            if !FileManager.default.fileExists(atPath: path) {
                try await download(remote, digest: digest, size: result[index].descriptor.size, to: path)
            }
            result[index].blob = .file(path)
        }
        return result
    }
}
