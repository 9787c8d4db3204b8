import Foundation
import OCI
import Registry

/// Moves whole images between a registry and local blobs, on top of `RegistryClient`.
public enum RegistryTransfer {
    /// Resolves `reference` for `platform` (through indexes) and fetches its manifest and config only:
    /// the layers stay in the registry (`Layer.remote`), to be mounted, streamed or downloaded later.
    /// Their `blobPath`s point into `directory/blobs/sha256/`.
    public static func resolve(_ reference: Reference, platform: Platform, client: RegistryClient, into directory: URL) async throws -> Image {
        let blobs = directory.appendingPathComponent("blobs/sha256")
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        var fetched = try await client.manifest(reference.repository, reference: reference.digest?.description ?? reference.tagOrLatest)
        for _ in 0..<4 where MediaType.indexes.contains(fetched.mediaType) {
            let index = try Index.decode(fetched.data, what: "index \(reference)")
            let chosen = try index.manifest(for: platform)
            fetched = try await client.manifest(reference.repository, reference: chosen.digest.description)
        }
        guard MediaType.manifests.contains(fetched.mediaType) else {
            throw BuildError.base("\(reference) is a \(fetched.mediaType), not an image")
        }
        let manifest = try Manifest.decode(fetched.data, what: "manifest \(reference)")
        let configPath = blobs.appendingPathComponent(manifest.config.digest.encoded).path
        _ = try await client.downloadBlob(reference.repository, digest: manifest.config.digest, to: configPath)
        guard let configData = FileManager.default.contents(atPath: configPath) else {
            throw BuildError.base("cannot read the config of \(reference)")
        }
        let config = try ImageConfiguration.decode(configData, layerCount: manifest.layers.count, what: "config of \(reference)")
        let remote = RemoteBlob(client: client, repository: reference.repository)
        let layers = zip(manifest.layers, config.rootfs.diffIDs).map { descriptor, diffID in
            Layer(descriptor: descriptor, diffID: diffID, blobPath: blobs.appendingPathComponent(descriptor.digest.encoded).path,
                  uncompressedSize: nil, remote: remote)
        }
        return Image(manifest: manifest, manifestData: fetched.data, config: config, configData: configData, layers: layers)
    }

    /// Pulls `reference` for `platform` into `directory/blobs/sha256/`, verifying every blob, and returns
    /// the image with its layers on disk.
    public static func pull(_ reference: Reference, platform: Platform, client: RegistryClient, into directory: URL) async throws -> Image {
        try await download(resolve(reference, platform: platform, client: client, into: directory))
    }

    /// Downloads every layer that is still remote to its `blobPath`.
    public static func download(_ image: Image) async throws -> Image {
        var image = image
        for index in image.layers.indices {
            guard let remote = image.layers[index].remote else { continue }
            let layer = image.layers[index]
            if !FileManager.default.fileExists(atPath: layer.blobPath) {
                _ = try await remote.client.downloadBlob(remote.repository, digest: layer.descriptor.digest, to: layer.blobPath)
            }
            image.layers[index].remote = nil
        }
        return image
    }

    /// Pushes `image` to `reference`'s repository under each of `tags` (the reference's own tag when empty).
    /// Remote layers are mounted within a registry and streamed across registries.
    public static func push(_ image: Image, to reference: Reference, tags: [String], client: RegistryClient,
                            mountFrom: String? = nil) async throws -> PushReport {
        var blobs = image.layers.map { layer in
            layer.remote.map { BlobSource(descriptor: layer.descriptor, remote: $0.client, repository: $0.repository) }
                ?? BlobSource(descriptor: layer.descriptor, path: layer.blobPath)
        }
        blobs.append(BlobSource(descriptor: image.manifest.config, data: image.configData))
        let allTags = tags.isEmpty ? [reference.digest?.description ?? reference.tagOrLatest] : tags
        return try await client.pushImage(reference.repository, blobs: blobs, manifest: image.manifestData,
                                          mediaType: image.manifest.mediaType ?? MediaType.ociManifest, tags: allTags,
                                          mountFrom: mountFrom)
    }

    /// Pushes the index `descriptor` in `layout` with everything it names: each child image (by digest)
    /// before the index, nested indexes depth first, then the index under each tag.
    public static func pushIndex(_ descriptor: Descriptor, in layout: Layout, to reference: Reference, tags: [String],
                                 client: RegistryClient) async throws -> PushReport {
        let data = try layout.readJSONBlob(descriptor)
        let index = try Index.decode(data, what: "index \(descriptor.digest)")
        var report = PushReport()
        for child in index.manifests {
            let pushed: PushReport
            if try await client.manifestDigest(reference.repository, reference: child.digest.description) != nil {
                continue   // already there, with everything it names (registries check that on PUT)
            } else if MediaType.indexes.contains(child.mediaType) {
                pushed = try await pushIndex(child, in: layout, to: reference, tags: [child.digest.description], client: client)
            } else if MediaType.manifests.contains(child.mediaType) {
                let image = try ImageReader.image(in: layout, manifest: child)
                pushed = try await push(image, to: reference, tags: [child.digest.description], client: client)
            } else {
                throw BuildError.invalidArgument("index \(descriptor.digest) names \(child.digest) of type \(child.mediaType), which kiln cannot push")
            }
            report.uploaded += pushed.uploaded
            report.mounted += pushed.mounted
            report.existing += pushed.existing
        }
        let references = tags.isEmpty ? [reference.digest?.description ?? reference.tagOrLatest] : tags
        for tag in references {
            try await client.putManifest(reference.repository, reference: tag, data: data, mediaType: index.mediaType ?? descriptor.mediaType)
        }
        return report
    }
}
