import Foundation

/// An OCI image layout on disk: `oci-layout`, `index.json` and `blobs/<alg>/<hex>`.
public struct Layout: Sendable {
    /// The layout's directory.
    public let root: URL

    /// The `oci-layout` marker file Kiln writes.
    public static let layoutFileContents = Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8)
    /// JSON blobs (manifests, configs, indexes) larger than this are refused rather than read into memory.
    public static let maxJSONBlobSize = 4 * 1024 * 1024

    /// A layout at `root`, without checking it; use `open` for an existing one.
    public init(root: URL) { self.root = root }

    /// Opens an existing layout, checking its `oci-layout` marker.
    public static func open(_ path: String) throws -> Layout {
        let layout = Layout(root: URL(fileURLWithPath: path))
        let marker = layout.root.appendingPathComponent("oci-layout")
        guard let data = try? Data(contentsOf: marker) else {
            throw OCIError.layout(path: path, reason: "not an OCI image layout (no readable oci-layout file)")
        }
        struct Marker: Decodable { var imageLayoutVersion: String }
        let version = try CanonicalJSON.decode(Marker.self, from: data, what: "\(path)/oci-layout").imageLayoutVersion
        guard version.hasPrefix("1.") else {
            throw OCIError.layout(path: path, reason: "unsupported imageLayoutVersion \(version)")
        }
        return layout
    }

    /// Where the blob with `digest` is stored, whether or not it exists.
    public func blobURL(_ digest: Digest) -> URL {
        root.appendingPathComponent("blobs/\(digest.algorithm.rawValue)/\(digest.encoded)")
    }

    /// Reads and decodes `index.json`.
    public func readIndex() throws -> Index {
        let url = root.appendingPathComponent("index.json")
        guard let data = try? Data(contentsOf: url) else {
            throw OCIError.layout(path: root.path, reason: "index.json is missing or unreadable")
        }
        return try Index.decode(data, what: "\(root.path)/index.json")
    }

    /// Reads a small JSON blob and checks its size and digest against the descriptor.
    public func readJSONBlob(_ descriptor: Descriptor) throws -> Data {
        guard descriptor.size <= Self.maxJSONBlobSize else {
            throw OCIError.layout(path: root.path, reason: "blob \(descriptor.digest) is \(descriptor.size) bytes, too large for a manifest or config")
        }
        guard let data = try? Data(contentsOf: blobURL(descriptor.digest)) else {
            throw OCIError.layout(path: root.path, reason: "blob \(descriptor.digest) is missing")
        }
        guard Int64(data.count) == descriptor.size, Digest.sha256(of: data) == descriptor.digest else {
            throw OCIError.layout(path: root.path, reason: "blob \(descriptor.digest) does not match its digest or size")
        }
        return data
    }

    /// The index.json entry tagged `tag` (or the only entry when `tag` is nil), whatever its type.
    public func entry(tag: String?) throws -> Descriptor {
        let index = try readIndex()
        let found = tag.map { tag in index.manifests.filter { $0.annotations?[Descriptor.refNameAnnotation] == tag } } ?? index.images
        guard found.count == 1 else {
            throw OCIError.layout(path: root.path, reason: tag.map { "\(found.count) entries are tagged '\($0)'" } ?? "holds \(found.count) entries; name one with oci:DIR:TAG")
        }
        return found[0]
    }

    /// Finds the image for `tag` (the `org.opencontainers.image.ref.name` annotation) and `platform`.
    /// With no tag, a layout holding exactly one entry uses it.
    public func resolveImage(tag: String?, platform: Platform) throws -> (descriptor: Descriptor, manifest: Manifest, config: ImageConfiguration) {
        let index = try readIndex()
        let candidates: [Descriptor]
        if let tag {
            candidates = index.manifests.filter { $0.annotations?[Descriptor.refNameAnnotation] == tag }
            guard !candidates.isEmpty else {
                let tags = index.manifests.compactMap { $0.annotations?[Descriptor.refNameAnnotation] }
                throw OCIError.layout(path: root.path, reason: "no image tagged '\(tag)' (tags: \(tags.isEmpty ? "none" : tags.joined(separator: ", ")))")
            }
        } else {
            guard index.images.count == 1 else {
                throw OCIError.layout(path: root.path, reason: "holds \(index.images.count) entries; name one with oci:DIR:TAG")
            }
            candidates = index.images
        }
        var descriptor = candidates.count == 1 ? candidates[0] : try Index(manifests: candidates).manifest(for: platform)
        // Follow nested indexes down to an image manifest for the platform.
        for _ in 0..<8 where MediaType.indexes.contains(descriptor.mediaType) {
            let nested = try Index.decode(readJSONBlob(descriptor), what: "index \(descriptor.digest)")
            descriptor = try nested.manifest(for: platform)
        }
        guard MediaType.manifests.contains(descriptor.mediaType) else {
            throw OCIError.layout(path: root.path, reason: "entry \(descriptor.digest) has media type \(descriptor.mediaType), not an image manifest")
        }
        let manifest = try Manifest.decode(readJSONBlob(descriptor), what: "manifest \(descriptor.digest)")
        let config = try ImageConfiguration.decode(readJSONBlob(manifest.config), layerCount: manifest.layers.count,
                                                   what: "config \(manifest.config.digest) in \(root.path)")
        return (descriptor, manifest, config)
    }
}

extension Index {
    /// The entries that are images or indexes, not artifacts attached to them (an SBOM lists its
    /// `artifactType`): what "the only entry" of an untagged layout means.
    public var images: [Descriptor] { manifests.filter { $0.artifactType == nil } }
}
