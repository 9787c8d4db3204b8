import Foundation
import OCI

/// A finished image: manifest, config and layers, each layer's blob on disk and readable on demand.
/// Outputs take one of these and need not know how it was made.
public struct Image: Sendable {
    /// The image manifest.
    public var manifest: Manifest
    /// The manifest's exact bytes, which its digest is computed from.
    public var manifestData: Data
    /// The image config.
    public var config: ImageConfiguration
    /// The config's exact bytes, as stored or pushed.
    public var configData: Data
    /// The layers, from the bottom up.
    public var layers: [Layer]

    /// The SHA-256 digest of `manifestData`.
    public var manifestDigest: Digest { Digest.sha256(of: manifestData) }
    /// A descriptor for the manifest, as an index or a push names it.
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

/// One layer of an image: its descriptor and diffID, and where its bytes are.
public struct Layer: Sendable, Equatable {
    /// The compressed blob's media type, digest and size.
    public var descriptor: Descriptor
    /// The digest of the uncompressed tar, as the config's `rootfs` lists it.
    public var diffID: Digest
    /// Where the compressed bytes are: a file here, or still in a registry.
    public var blob: LayerBlob
    /// The length of the uncompressed tar, when known without reading the blob.
    public var uncompressedSize: Int64?

    /// A layer from its descriptor, diffID and blob location.
    public init(descriptor: Descriptor, diffID: Digest, blob: LayerBlob, uncompressedSize: Int64? = nil) {
        self.descriptor = descriptor
        self.diffID = diffID
        self.blob = blob
        self.uncompressedSize = uncompressedSize
    }

    /// The blob's file, for a layer on this machine.
    public var path: String? {
        if case let .file(path) = blob { return path }
        return nil
    }

    /// The blob's file, or an error naming the layer when it is still in a registry.
    public func localPath() throws -> String {
        guard let path else { throw ImageError.source("layer \(descriptor.digest) is still in its registry; download it first") }
        return path
    }
}

/// Where a layer's bytes are. A registry base stays remote until something needs its bytes: a push to
/// the same registry mounts it, a push elsewhere streams it, a local output downloads it.
public enum LayerBlob: Sendable, Equatable {
    /// A file on this machine.
    case file(String)
    /// A blob in a registry repository, fetched by digest.
    case remote(RemoteBlob)
}

/// A blob left in a registry: the registry host and the repository that holds it. The client that
/// reads it comes from a `RegistrySession`, so a layer is plain data.
public struct RemoteBlob: Sendable, Equatable, Hashable {
    /// The registry host, such as `ghcr.io`.
    public var registry: String
    /// The repository within the registry.
    public var repository: String

    /// A blob in `repository` at `registry`.
    public init(registry: String, repository: String) {
        self.registry = registry
        self.repository = repository
    }
}
