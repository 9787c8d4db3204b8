/// A content descriptor: what a blob is, how large, and where it fits.
public struct Descriptor: Hashable, Sendable, Codable {
    /// The blob's media type.
    public var mediaType: String
    /// The digest of the blob's bytes.
    public var digest: Digest
    /// The blob's size in bytes.
    public var size: Int64
    /// Other places the blob may be downloaded from, as foreign layers list.
    public var urls: [String]?
    /// Free-form metadata, such as the tag in an OCI layout's index.
    public var annotations: [String: String]?
    /// The platform of the image a manifest describes, in an index entry.
    public var platform: Platform?
    /// The type of the artifact the descriptor points to, if it points to one.
    public var artifactType: String?

    /// A descriptor with the given fields and no `urls`.
    public init(mediaType: String, digest: Digest, size: Int64, annotations: [String: String]? = nil,
                platform: Platform? = nil, artifactType: String? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
        self.platform = platform
        self.artifactType = artifactType
    }

    /// The annotation that names a manifest's tag inside an OCI layout's index.
    public static let refNameAnnotation = "org.opencontainers.image.ref.name"
}
