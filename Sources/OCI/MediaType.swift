/// Media types Kiln reads and writes.
public enum MediaType {
    /// An OCI image manifest.
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    /// An OCI image index.
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    /// An OCI image config.
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    /// An uncompressed OCI layer.
    public static let ociLayer = "application/vnd.oci.image.layer.v1.tar"
    /// A gzip-compressed OCI layer.
    public static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    /// A zstd-compressed OCI layer.
    public static let ociLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    /// A gzip-compressed OCI layer that may not be pushed to other registries (deprecated).
    public static let ociLayerNondistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"

    /// A Docker v2 schema 2 manifest.
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    /// A Docker manifest list, the Docker form of an index.
    public static let dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
    /// A Docker image config.
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    /// An uncompressed Docker layer.
    public static let dockerLayer = "application/vnd.docker.image.rootfs.diff.tar"
    /// A gzip-compressed Docker layer.
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    /// A gzip-compressed Docker layer fetched from its `urls`, not pushed (Windows base layers).
    public static let dockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

    /// Types that name a single-image manifest.
    public static let manifests: Set<String> = [ociManifest, dockerManifest]
    /// Types that name a list of manifests.
    public static let indexes: Set<String> = [ociIndex, dockerManifestList]

    /// The compression a layer media type implies.
    public static func layerCompression(_ mediaType: String) -> LayerCompression? {
        switch mediaType {
        case ociLayer, dockerLayer: return LayerCompression.none
        case ociLayerGzip, dockerLayerGzip, ociLayerNondistributableGzip, dockerForeignLayerGzip: return .gzip
        case ociLayerZstd: return .zstd
        default: return nil
        }
    }
}

/// How a layer's tar stream is compressed.
public enum LayerCompression: String, Sendable, CaseIterable, Codable {
    /// gzip (the most widely read), zstd, or no compression.
    case gzip, zstd, none

    /// The OCI layer media type for this compression.
    public var ociMediaType: String {
        switch self {
        case .gzip: return MediaType.ociLayerGzip
        case .zstd: return MediaType.ociLayerZstd
        case .none: return MediaType.ociLayer
        }
    }
}
