import Foundation
import OCI
import Registry

/// A finished image: manifest, config and layers, each layer's blob on disk and readable on demand.
/// Outputs take one of these and need not know how it was made.
public struct Image: Sendable {
    public var manifest: Manifest
    public var manifestData: Data
    public var config: ImageConfiguration
    public var configData: Data
    public var layers: [Layer]

    public var manifestDigest: Digest { Digest.sha256(of: manifestData) }
    public var manifestDescriptor: Descriptor {
        Descriptor(mediaType: manifest.mediaType ?? MediaType.ociManifest, digest: manifestDigest, size: Int64(manifestData.count))
    }

    /// Builds the manifest for `config` and `layers`, with canonical JSON for both.
    public init(config: ImageConfiguration, layers: [Layer]) throws {
        self.config = config
        self.layers = layers
        configData = try CanonicalJSON.encode(config)
        let configDescriptor = Descriptor(mediaType: MediaType.ociConfig, digest: Digest.sha256(of: configData),
                                          size: Int64(configData.count))
        manifest = Manifest(config: configDescriptor, layers: layers.map(\.descriptor))
        manifestData = try CanonicalJSON.encode(manifest)
    }

    /// An image read as it is stored, keeping its manifest bytes (and so its digest) unchanged.
    public init(manifest: Manifest, manifestData: Data, config: ImageConfiguration, configData: Data, layers: [Layer]) {
        self.manifest = manifest
        self.manifestData = manifestData
        self.config = config
        self.configData = configData
        self.layers = layers
    }
}

/// One layer of an image.
public struct Layer: Sendable, Equatable {
    public var descriptor: Descriptor
    public var diffID: Digest
    /// Where the blob's bytes are.
    public var blobPath: String
    /// The length of the uncompressed tar, when known without reading the blob.
    public var uncompressedSize: Int64?
    /// Set when the bytes are still in a registry (a base layer not downloaded); `blobPath` is then
    /// where they would go.
    public var remote: RemoteBlob?

    public init(descriptor: Descriptor, diffID: Digest, blobPath: String, uncompressedSize: Int64?, remote: RemoteBlob? = nil) {
        self.descriptor = descriptor
        self.diffID = diffID
        self.blobPath = blobPath
        self.uncompressedSize = uncompressedSize
        self.remote = remote
    }
}

/// A blob that stays in a registry repository until something needs its bytes.
public struct RemoteBlob: Sendable, Equatable {
    public let client: RegistryClient
    public let repository: String

    public init(client: RegistryClient, repository: String) {
        self.client = client
        self.repository = repository
    }

    public static func == (lhs: RemoteBlob, rhs: RemoteBlob) -> Bool {
        lhs.client === rhs.client && lhs.repository == rhs.repository
    }
}
