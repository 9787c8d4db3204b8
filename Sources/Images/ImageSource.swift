import Foundation
import OCI
import Plan

/// Something an image can be read from: a layout, an archive, a registry, or nothing (`scratch`).
public protocol ImageSource: Sendable {
    /// The image for `platform` (an index is followed down to it; nil means the host's). Layers may
    /// stay remote: a registry source leaves them in the registry until a sink needs their bytes.
    func image(platform: Platform?) async throws -> Image
}

/// Something an image can be written to: a layout, an archive, a registry.
public protocol ImageSink: Sendable {
    /// Writes `image` whole, or leaves nothing behind. Returns what the registry did, if it was one.
    func write(_ image: Image) async throws -> PushSummary?
    /// Attaches `artifact` to `image`, already written here; returns the artifact manifest's descriptor,
    /// or nil where the format has no place for artifacts.
    func attach(_ artifact: Artifact, to image: Image) async throws -> Descriptor?
    /// Where new layers can go while they are written, before `write` (see `LayerUploads`); nil, the
    /// default, when this sink has no use for them. `log` is told of a stream that failed.
    func layerUploads(log: @escaping @Sendable (String) -> Void) -> (any LayerUploads)?
}

extension ImageSink {
    /// No streams: layers are written to files, and `write` takes them from there.
    public func layerUploads(log: @escaping @Sendable (String) -> Void) -> (any LayerUploads)? { nil }
}

/// What a push did: blobs uploaded, mounted from another repository, or already there, and the tags.
public struct PushSummary: Sendable, Equatable {
    /// Blobs uploaded to the registry.
    public var uploaded: [Digest]
    /// Blobs mounted from another repository of the same registry.
    public var mounted: [Digest]
    /// Blobs the registry already had.
    public var existing: [Digest]
    /// The tags (or digest) the manifest was pushed under.
    public var tags: [String]
}

/// The empty base: no layers, a config for the requested platform.
public struct ScratchSource: ImageSource {
    /// The scratch source.
    public init() {}

    /// An image with no layers and a config for `platform`, or the host's when nil.
    public func image(platform: Platform?) async throws -> Image {
        try Image(config: ImageConfiguration(platform: platform ?? .host, config: ContainerConfig()), layers: [])
    }
}

extension ImageLocation {
    /// A reader for this location. A docker-archive is unpacked into `scratch`; a registry image is read
    /// through `session`.
    public func source(session: RegistrySession, scratch: URL) -> any ImageSource {
        switch self {
        case .scratch: return ScratchSource()
        case let .layout(path, tag): return LayoutSource(path: path, tag: tag)
        case let .dockerArchive(path, _): return DockerArchiveSource(path: path, scratch: scratch)
        case let .registry(reference): return RegistrySource(reference: reference, session: session, scratch: scratch)
        }
    }

    /// A writer for this location. `tags` are the registry tags to push (the reference's own when
    /// empty); `remotes` reads the remote layers of the image being written (a registry base's).
    public func sink(session: RegistrySession, tags: [String] = [], remotes: RegistrySession? = nil, epoch: Int64 = 0) throws -> any ImageSink {
        switch self {
        case .scratch: throw ImageError.output("scratch is an empty base, not somewhere an image can be written")
        case let .layout(path, tag): return LayoutSink(path: path, tag: tag, remotes: remotes ?? session)
        case let .dockerArchive(path, reference):
            return DockerArchiveSink(path: path, reference: reference, mtime: epoch, remotes: remotes ?? session)
        case let .registry(reference): return RegistrySink(reference: reference, tags: tags, session: session, remotes: remotes ?? session)
        }
    }
}
