import Images
import OCI
import Plan

/// What `Kiln.build` or `Kiln.copy` made, and where it went.
public struct BuildResult: Sendable {
    /// One layer of the image written.
    public struct LayerSummary: Sendable, Encodable, Equatable {
        /// The digest of the compressed blob.
        public var digest: Digest
        /// The digest of the uncompressed tar.
        public var diffID: Digest
        /// The blob's size in bytes.
        public var size: Int64
        /// The blob's media type.
        public var mediaType: String
    }

    /// Where the image was written.
    public var location: ImageLocation
    /// The digest of the manifest (or index) written.
    public var manifestDigest: Digest
    /// The image written; nil when a whole index was pushed.
    public var image: Image?
    /// What the registry did, for a registry destination.
    public var push: PushSummary?
    /// The prefix of the conda environment, if the plan had one.
    public var environmentPrefix: String?
    /// The SPDX SBOM attached to the image (an OCI artifact whose subject is the image), when it has an environment.
    public var sbom: Descriptor?
    /// How many of the plan's layers came from the layer cache, unread.
    public var reusedLayers = 0

    init(location: ImageLocation, image: Image, push: PushSummary?, environmentPrefix: String? = nil) {
        self.location = location
        manifestDigest = image.manifestDigest
        self.image = image
        self.push = push
        self.environmentPrefix = environmentPrefix
    }

    init(location: ImageLocation, index: Digest, push: PushSummary?) {
        self.location = location
        manifestDigest = index
        self.push = push
    }

    /// The config's digest; nil for an index.
    public var configDigest: Digest? { image?.manifest.config.digest }
    /// The image's layers, base layers included; empty for an index.
    public var layers: [LayerSummary] {
        (image?.layers ?? []).map { LayerSummary(digest: $0.descriptor.digest, diffID: $0.diffID, size: $0.descriptor.size, mediaType: $0.descriptor.mediaType) }
    }
}
