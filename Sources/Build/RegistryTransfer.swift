import Foundation
import OCI
import Registry

/// Moves whole images between a registry and local blobs, on top of `RegistryClient`.
public enum RegistryTransfer {
    /// Pulls `reference` for `platform` into `directory/blobs/sha256/`, verifying every blob, and returns
    /// the image with its layers on disk.
    public static func pull(_ reference: Reference, platform: Platform, client: RegistryClient, into directory: URL) async throws -> Image {
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
        var layers: [Layer] = []
        for (descriptor, diffID) in zip(manifest.layers, config.rootfs.diffIDs) {
            let path = blobs.appendingPathComponent(descriptor.digest.encoded).path
            if !FileManager.default.fileExists(atPath: path) {
                _ = try await client.downloadBlob(reference.repository, digest: descriptor.digest, to: path)
            }
            layers.append(Layer(descriptor: descriptor, diffID: diffID, blobPath: path, uncompressedSize: nil))
        }
        return Image(manifest: manifest, manifestData: fetched.data, config: config, configData: configData, layers: layers)
    }

    /// Pushes `image` to `reference`'s repository under each of `tags` (the reference's own tag when empty).
    public static func push(_ image: Image, to reference: Reference, tags: [String], client: RegistryClient,
                            mountFrom: String? = nil) async throws -> PushReport {
        var blobs = image.layers.map { BlobSource(descriptor: $0.descriptor, path: $0.blobPath) }
        blobs.append(BlobSource(descriptor: image.manifest.config, data: image.configData))
        let allTags = tags.isEmpty ? [reference.digest?.description ?? reference.tagOrLatest] : tags
        return try await client.pushImage(reference.repository, blobs: blobs, manifest: image.manifestData,
                                          mediaType: image.manifest.mediaType ?? MediaType.ociManifest, tags: allTags,
                                          mountFrom: mountFrom)
    }
}
