import Foundation

/// A single-image manifest: an OCI image manifest or a Docker v2 schema 2 manifest, which share a shape.
public struct Manifest: Hashable, Sendable, Codable {
    /// Always 2.
    public var schemaVersion: Int = 2
    /// The manifest's own media type, OCI or Docker.
    public var mediaType: String?
    /// The artifact's type, for a manifest that describes an artifact.
    public var artifactType: String?
    /// The image config blob.
    public var config: Descriptor
    /// The layer blobs, bottom first.
    public var layers: [Descriptor]
    /// The manifest this one refers to, as signatures and SBOMs do.
    public var subject: Descriptor?
    /// Free-form metadata.
    public var annotations: [String: String]?

    /// A schema 2 manifest; OCI unless another media type is given.
    public init(mediaType: String = MediaType.ociManifest, config: Descriptor, layers: [Descriptor],
                annotations: [String: String]? = nil) {
        self.mediaType = mediaType
        self.config = config
        self.layers = layers
        self.annotations = annotations
    }

    /// Decodes a manifest, checking that it is schema version 2.
    public static func decode(_ data: Data, what: String) throws -> Manifest {
        try decodeSchema2(Manifest.self, data, what: what, version: \.schemaVersion)
    }
}

/// A list of manifests: an OCI image index or a Docker manifest list.
public struct Index: Hashable, Sendable, Codable {
    /// Always 2.
    public var schemaVersion: Int = 2
    /// The index's own media type, OCI index or Docker manifest list.
    public var mediaType: String?
    /// The artifact's type, for an index that describes an artifact.
    public var artifactType: String?
    /// The entries: manifests or nested indexes, each with its platform when known.
    public var manifests: [Descriptor]
    /// The manifest this index refers to, as signatures and SBOMs do.
    public var subject: Descriptor?
    /// Free-form metadata.
    public var annotations: [String: String]?

    /// A schema 2 index; OCI unless another media type is given.
    public init(mediaType: String = MediaType.ociIndex, manifests: [Descriptor], annotations: [String: String]? = nil) {
        self.mediaType = mediaType
        self.manifests = manifests
        self.annotations = annotations
    }

    /// Decodes an index, checking that it is schema version 2.
    public static func decode(_ data: Data, what: String) throws -> Index {
        try decodeSchema2(Index.self, data, what: what, version: \.schemaVersion)
    }

    /// The image manifest for `platform`. Entries without a platform are taken only when nothing matches
    /// and there is exactly one image manifest (as a single-platform layout often has).
    public func manifest(for platform: Platform) throws -> Descriptor {
        let images = manifests.filter { MediaType.manifests.contains($0.mediaType) || MediaType.indexes.contains($0.mediaType) }
        if let match = images.first(where: { $0.platform?.satisfies(platform) == true }) { return match }
        let unplatformed = images.filter { $0.platform == nil }
        if unplatformed.count == 1, images.count == 1 { return unplatformed[0] }
        let available = images.compactMap { $0.platform?.description }
        throw OCIError.noMatchingManifest("no entry for \(platform) (available: \(available.isEmpty ? "none" : available.joined(separator: ", ")))")
    }
}

/// Decodes a manifest or index and refuses any schema version but 2 (schema 1 is long deprecated).
private func decodeSchema2<T: Decodable>(_ type: T.Type, _ data: Data, what: String, version: KeyPath<T, Int>) throws -> T {
    let value = try CanonicalJSON.decode(type, from: data, what: what)
    guard value[keyPath: version] == 2 else {
        throw OCIError.malformedJSON(what: what, detail: "schemaVersion \(value[keyPath: version]) is not supported (only 2)")
    }
    return value
}
