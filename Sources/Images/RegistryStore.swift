import Foundation
import OCI
import Registry

/// Reads an image from a registry: the manifest (through indexes, for the platform) and the config.
/// The layers stay in the registry (`LayerBlob.remote`), to be mounted, streamed or downloaded by
/// whichever sink needs them.
public struct RegistrySource: ImageSource {
    /// The image to read, by tag or digest.
    public let reference: Reference
    let session: RegistrySession
    /// Where the config is kept.
    let scratch: URL

    /// A source for `reference`, reading through `session` and keeping the config in `scratch`.
    public init(reference: Reference, session: RegistrySession, scratch: URL) {
        self.reference = reference
        self.session = session
        self.scratch = scratch
    }

    /// Fetches the manifest for `platform` (the host's when nil) and the config; layers stay remote.
    public func image(platform: Platform?) async throws -> Image {
        let client = try await session.client(for: reference)
        var fetched = try await client.manifest(reference.repository, reference: reference.digest?.description ?? reference.tagOrLatest)
        for _ in 0..<4 where MediaType.indexes.contains(fetched.mediaType) {
            let index = try Index.decode(fetched.data, what: "index \(reference)")
            let chosen = try index.manifest(for: platform ?? .host)
            fetched = try await client.manifest(reference.repository, reference: chosen.digest.description)
        }
        guard MediaType.manifests.contains(fetched.mediaType) else {
            throw ImageError.source("\(reference) is a \(fetched.mediaType), not an image")
        }
        let manifest = try Manifest.decode(fetched.data, what: "manifest \(reference)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let configPath = scratch.appendingPathComponent("config-" + manifest.config.digest.encoded).path
        _ = try await client.downloadBlob(reference.repository, digest: manifest.config.digest, size: min(manifest.config.size, Int64(Layout.maxJSONBlobSize)), to: configPath)
        guard let configData = FileManager.default.contents(atPath: configPath) else {
            throw ImageError.source("cannot read the config of \(reference)")
        }
        let config = try ImageConfiguration.decode(configData, layerCount: manifest.layers.count, what: "config of \(reference)")
        let remote = RemoteBlob(registry: reference.registry, repository: reference.repository)
        let layers = zip(manifest.layers, config.rootfs.diffIDs).map { Layer(descriptor: $0, diffID: $1, blob: .remote(remote)) }
        return Image(manifest: manifest, manifestData: fetched.data, config: config, configData: configData, layers: layers)
    }
}

/// Pushes an image to a registry repository under its tags: blobs first (present ones skipped, remote
/// ones mounted within a registry or streamed across registries), the manifest last, so a failed push
/// never leaves a tag that names missing blobs.
public struct RegistrySink: ImageSink {
    /// The repository to push to, and the default tag.
    public let reference: Reference
    /// Tags to push; the reference's own tag (or digest) when empty.
    public let tags: [String]
    let session: RegistrySession
    let remotes: RegistrySession
    /// New layers streamed here while they were written; shared by copies of this sink.
    let streams: RegistryLayerUploads

    /// A sink for `reference`; `session` pushes, `remotes` reads layers still in other registries.
    public init(reference: Reference, tags: [String], session: RegistrySession, remotes: RegistrySession) {
        self.reference = reference
        self.tags = tags
        self.session = session
        self.remotes = remotes
        streams = RegistryLayerUploads(reference: reference, session: session)
    }

    /// Streams each new layer into the repository while it is written (`StreamedUpload`), so that `write`
    /// has only the rest to push. Nil when uploads go in `chunkSize` pieces: a registry that needs those
    /// may well refuse one PATCH of unknown length, and the pieces need the file anyway.
    public func layerUploads(log: @escaping @Sendable (String) -> Void) -> (any LayerUploads)? {
        guard session.settings.client.chunkSize == nil else { return nil }
        streams.setLog(log)
        return streams
    }

    var allTags: [String] { tags.isEmpty ? [reference.digest?.description ?? reference.tagOrLatest] : tags }

    /// Pushes `image` and returns what was uploaded, mounted or already present. Layers streamed while
    /// they were written (`layerUploads`) are waited for, counted as uploaded, and not pushed again; the
    /// ones whose stream failed go up from their files like any other.
    public func write(_ image: Image) async throws -> PushSummary? {
        let streamed = await streams.settle()
        let client = try await session.client(for: reference)
        var blobs: [BlobSource] = []
        var uploaded: Set<Digest> = []
        for layer in image.layers {
            if streamed.contains(layer.descriptor.digest) {
                uploaded.insert(layer.descriptor.digest)
                continue
            }
            switch layer.blob {
            case let .file(path): blobs.append(BlobSource(descriptor: layer.descriptor, path: path))
            case let .remote(remote):
                let source = try await remotes.client(registry: remote.registry, repository: remote.repository)
                blobs.append(BlobSource(descriptor: layer.descriptor, remote: source, repository: remote.repository))
            }
        }
        blobs.append(BlobSource(descriptor: image.manifest.config, data: image.configData))
        let report = try await client.pushImage(reference.repository, blobs: blobs, manifest: image.manifestData,
                                                mediaType: image.manifest.mediaType ?? MediaType.ociManifest, tags: allTags)
        return PushSummary(uploaded: (report.uploaded + uploaded).sorted(), mounted: report.mounted, existing: report.existing, tags: allTags)
    }

    /// Pushes the artifact by digest. A registry without the referrers API gets the OCI tag fallback
    /// too: the index under `sha256-<hex of the image>` lists it beside any referrers already there.
    public func attach(_ artifact: Artifact, to image: Image) async throws -> Descriptor? {
        let client = try await session.client(for: reference)
        let manifest = try artifact.manifestData(subject: image.manifestDescriptor)
        let descriptor = artifact.descriptor(manifest: manifest)
        _ = try await client.pushImage(reference.repository, blobs: [BlobSource(descriptor: Artifact.emptyDescriptor, data: Artifact.emptyConfig),
                                                                     BlobSource(descriptor: artifact.blobDescriptor, data: artifact.data)],
                                       manifest: manifest, mediaType: MediaType.ociManifest, tags: [descriptor.digest.description])
        if try await client.referrers(reference.repository, digest: image.manifestDigest) == nil {
            let tag = RegistryClient.referrersTag(for: image.manifestDigest)
            var index = try await client.fallbackReferrers(reference.repository, subject: image.manifestDigest)
            index.manifests.removeAll { $0.digest == descriptor.digest }
            index.manifests.append(descriptor)
            try await client.putManifest(reference.repository, reference: tag, data: try CanonicalJSON.encode(index), mediaType: MediaType.ociIndex)
        }
        return descriptor
    }

    /// Pushes the index `descriptor` in `layout` with everything it names: each child image (by digest)
    /// before the index, nested indexes depth first, then the index under each tag.
    public func write(index descriptor: Descriptor, in layout: Layout) async throws -> PushSummary {
        let client = try await session.client(for: reference)
        let data = try layout.readJSONBlob(descriptor)
        let index = try Index.decode(data, what: "index \(descriptor.digest)")
        var summary = PushSummary(uploaded: [], mounted: [], existing: [], tags: allTags)
        for child in index.manifests {
            let pushed: PushSummary?
            let childSink = RegistrySink(reference: reference, tags: [child.digest.description], session: session, remotes: remotes)
            if try await client.manifestDigest(reference.repository, reference: child.digest.description) != nil {
                continue   // already there, with everything it names (registries check that on PUT)
            } else if MediaType.indexes.contains(child.mediaType) {
                pushed = try await childSink.write(index: child, in: layout)
            } else if MediaType.manifests.contains(child.mediaType) {
                pushed = try await childSink.write(LayoutSource.image(in: layout, manifest: child))
            } else {
                throw ImageError.source("index \(descriptor.digest) names \(child.digest) of type \(child.mediaType), which kiln cannot push")
            }
            summary.uploaded += pushed?.uploaded ?? []
            summary.mounted += pushed?.mounted ?? []
            summary.existing += pushed?.existing ?? []
        }
        for tag in allTags {
            try await client.putManifest(reference.repository, reference: tag, data: data, mediaType: index.mediaType ?? descriptor.mediaType)
        }
        return summary
    }
}
