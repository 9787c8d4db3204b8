import Foundation
import OCI

/// Reads an image from an OCI image layout, every JSON blob verified against its digest.
public struct LayoutSource: ImageSource {
    /// The layout directory.
    public let path: String
    /// The tag to read; nil reads the layout's only entry.
    public let tag: String?

    /// A source for the layout at `path`, reading `tag`.
    public init(path: String, tag: String?) {
        self.path = path
        self.tag = tag
    }

    /// The image for `tag` and `platform`, after checking that every layer blob is present.
    public func image(platform: Platform?) async throws -> Image {
        let layout = try Layout.open(path)
        let found = try layout.resolveImage(tag: tag, platform: platform ?? .host)
        if let platform, !found.config.platform.satisfies(platform) {
            throw ImageError.base("oci:\(path) is \(found.config.platform), not the requested \(platform)")
        }
        let image = try Self.image(in: layout, manifest: found.descriptor)
        for layer in image.layers where !FileManager.default.fileExists(atPath: layer.path ?? "") {
            throw ImageError.source("oci:\(path) is missing layer blob \(layer.descriptor.digest)")
        }
        return image
    }

    /// The image whose manifest `descriptor` names in `layout`.
    public static func image(in layout: Layout, manifest descriptor: Descriptor) throws -> Image {
        let manifestData = try layout.readJSONBlob(descriptor)
        let manifest = try Manifest.decode(manifestData, what: "manifest \(descriptor.digest)")
        let configData = try layout.readJSONBlob(manifest.config)
        let config = try ImageConfiguration.decode(configData, layerCount: manifest.layers.count,
                                                   what: "config \(manifest.config.digest) in \(layout.root.path)")
        let layers = zip(manifest.layers, config.rootfs.diffIDs).map {
            Layer(descriptor: $0, diffID: $1, blob: .file(layout.blobURL($0.digest).path))
        }
        return Image(manifest: manifest, manifestData: manifestData, config: config, configData: configData, layers: layers)
    }
}

/// Writes an image into an OCI image layout directory.
///
/// A new directory is assembled beside its final name and renamed into place, so a failure leaves
/// nothing. Into an existing layout, blobs are added first and `index.json` is replaced last, by rename,
/// so readers never see an index that names a missing blob. Writers take turns under a lock on the parent
/// directory, so concurrent builds into one layout all land. Remote layers are downloaded.
public struct LayoutSink: ImageSink {
    /// The layout directory, created if missing.
    public let path: String
    /// The tag to record; an existing entry with the same tag is replaced.
    public let tag: String?
    let remotes: RegistrySession

    /// A sink for the layout at `path`; `remotes` downloads any layers still in a registry.
    public init(path: String, tag: String?, remotes: RegistrySession) {
        self.path = path
        self.tag = tag
        self.remotes = remotes
    }

    /// Adds `image` to the layout, creating it if needed; always returns nil.
    public func write(_ image: Image) async throws -> PushSummary? {
        try await Atomic.withLock(onParentOf: path) { try await writeLocked(image) }
    }

    func writeLocked(_ image: Image) async throws -> PushSummary? {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue, let layout = try? Layout.open(path) else {
                throw ImageError.output("\(path) exists and is not an OCI layout")
            }
            try await addBlobs(of: image, to: layout)
            var index = try layout.readIndex()
            index.manifests.removeAll { entry in
                tag != nil && entry.annotations?[Descriptor.refNameAnnotation] == tag
            }
            index.manifests.append(entry(for: image))
            try Atomic.write(CanonicalJSON.encode(index), to: layout.root.appendingPathComponent("index.json").path)
            return nil
        }
        let staging = try Atomic.stagingPath(for: path)
        do {
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: false)
            let layout = Layout(root: URL(fileURLWithPath: staging))
            try Layout.layoutFileContents.write(to: layout.root.appendingPathComponent("oci-layout"))
            try await addBlobs(of: image, to: layout)
            try CanonicalJSON.encode(Index(manifests: [entry(for: image)])).write(to: layout.root.appendingPathComponent("index.json"))
            try Atomic.rename(staging, to: path)
        } catch {
            try? fm.removeItem(atPath: staging)
            throw error
        }
        return nil
    }

    /// Adds the artifact's blobs and lists its manifest in `index.json`, untagged, beside the image.
    public func attach(_ artifact: Artifact, to image: Image) async throws -> Descriptor? {
        try await Atomic.withLock(onParentOf: path) {
            let layout = try Layout.open(path)
            let manifest = try artifact.manifestData(subject: image.manifestDescriptor)
            let descriptor = artifact.descriptor(manifest: manifest)
            try Self.writeMissing([(artifact.data, artifact.blobDescriptor.digest), (Artifact.emptyConfig, Artifact.emptyDescriptor.digest),
                                   (manifest, descriptor.digest)], to: layout)
            var index = try layout.readIndex()
            index.manifests.removeAll { $0.digest == descriptor.digest }
            index.manifests.append(descriptor)
            try Atomic.write(CanonicalJSON.encode(index), to: layout.root.appendingPathComponent("index.json").path)
            return descriptor
        }
    }

    func entry(for image: Image) -> Descriptor {
        var descriptor = image.manifestDescriptor
        if let tag { descriptor.annotations = [Descriptor.refNameAnnotation: tag] }
        return descriptor
    }

    func addBlobs(of image: Image, to layout: Layout) async throws {
        try FileManager.default.createDirectory(at: layout.root.appendingPathComponent("blobs/sha256"),
                                                withIntermediateDirectories: true)
        for layer in image.layers {
            let target = layout.blobURL(layer.descriptor.digest).path
            switch layer.blob {
            case let .file(source): try Atomic.placeBlob(from: source, at: target)
            case let .remote(remote):
                if FileManager.default.fileExists(atPath: target) { continue }
                try await remotes.download(remote, digest: layer.descriptor.digest, size: layer.descriptor.size, to: target)
            }
        }
        try Self.writeMissing([(image.configData, image.manifest.config.digest), (image.manifestData, image.manifestDigest)], to: layout)
    }

    /// Writes each blob the layout does not have yet (blobs are content-addressed, so one there is the same).
    static func writeMissing(_ blobs: [(Data, Digest)], to layout: Layout) throws {
        for (data, digest) in blobs {
            let target = layout.blobURL(digest).path
            if !FileManager.default.fileExists(atPath: target) { try Atomic.write(data, to: target) }
        }
    }
}
