import Archive
import Foundation
import OCI

/// Reads a `docker save` / `docker-archive:` tarball holding one image. It is unpacked into `scratch`
/// (streamed, never held in memory), and each layer is checked against the config's diffID. The
/// archive has no registry manifest, so the image is described by the OCI manifest of its contents.
public struct DockerArchiveSource: ImageSource {
    /// The archive file to read.
    public let path: String
    /// The directory the archive's members are unpacked into.
    public let scratch: URL

    /// A source for the archive at `path`, unpacking into `scratch`.
    public init(path: String, scratch: URL) {
        self.path = path
        self.scratch = scratch
    }

    struct ArchiveManifestEntry: Decodable {
        var Config: String
        var Layers: [String]
    }

    /// Unpacks the archive and returns its image; `platform` is not used, as the archive holds one image.
    public func image(platform: Platform?) async throws -> Image {
        guard FileManager.default.fileExists(atPath: path) else { throw ArchiveError.missingSource(path) }
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let reader = try TarReader(path: path)
        var files: [String: String] = [:]
        var number = 0
        while let member = try reader.next() {
            guard member.kind == .file else { continue }
            let name = member.path.hasPrefix("./") ? String(member.path.dropFirst(2)) : member.path
            number += 1
            let target = scratch.appendingPathComponent("member-\(number)").path
            let sink = try FileSink(path: target)
            try reader.readData { try sink.write($0) }
            try sink.finish()
            files[name] = target
        }
        guard let manifestPath = files["manifest.json"], let manifestData = FileManager.default.contents(atPath: manifestPath) else {
            throw ImageError.source("docker-archive:\(path): no manifest.json")
        }
        let entries = try CanonicalJSON.decode([ArchiveManifestEntry].self, from: manifestData, what: "\(path) manifest.json")
        guard entries.count == 1, let entry = entries.first else {
            throw ImageError.source("docker-archive:\(path): holds \(entries.count) images; only single-image archives are read")
        }
        guard let configPath = files[entry.Config], let configData = FileManager.default.contents(atPath: configPath) else {
            throw ImageError.source("docker-archive:\(path): config \(entry.Config) is missing")
        }
        let config = try ImageConfiguration.decode(configData, layerCount: entry.Layers.count, what: "\(path) \(entry.Config)")
        var layers: [Layer] = []
        for (name, diffID) in zip(entry.Layers, config.rootfs.diffIDs) {
            guard let layerPath = files[name] else { throw ImageError.source("docker-archive:\(path): layer \(name) is missing") }
            let measured = try Decompressor.diffID(path: layerPath)
            guard measured.digest == diffID else {
                throw ImageError.source("docker-archive:\(path): layer \(name) has digest \(measured.digest), config says \(diffID)")
            }
            let size = Int64((try? FileManager.default.attributesOfItem(atPath: layerPath)[.size] as? Int) ?? 0)
            let blobDigest = try DigestFile.sha256(path: layerPath)
            layers.append(Layer(descriptor: Descriptor(mediaType: MediaType.ociLayer, digest: blobDigest, size: size),
                                diffID: diffID, blob: .file(layerPath), uncompressedSize: measured.size))
        }
        // The archive has no registry manifest; describe it as the OCI manifest of its contents.
        var image = try Image(config: config, layers: layers)
        image.configData = configData
        return image
    }
}

/// Writes an image as a `docker load` / `docker-archive:` tarball: `manifest.json`, the config as
/// `<hex>.json`, and each layer uncompressed as `<diffID hex>.tar`, as `docker save` and skopeo do.
/// Layers stream from their blobs through a decompressor; each is checked against its diffID.
public struct DockerArchiveSink: ImageSink {
    struct ManifestEntry: Encodable {
        var Config: String
        var RepoTags: [String]?
        var Layers: [String]
    }

    /// The archive file to write.
    public let path: String
    /// The name recorded in `RepoTags`, if any; a missing tag is written as `latest`.
    public let reference: Reference?
    /// The modification time of every member, in seconds since the epoch.
    public let mtime: Int64
    let remotes: RegistrySession

    /// A sink for `path`; `remotes` downloads any layers still in a registry.
    public init(path: String, reference: Reference?, mtime: Int64, remotes: RegistrySession) {
        self.path = path
        self.reference = reference
        self.mtime = mtime
        self.remotes = remotes
    }

    /// Writes the archive beside `path` and renames it into place; always returns nil.
    public func write(_ image: Image) async throws -> PushSummary? {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ImageError.output("\(path) is a directory")
        }
        let staging = try Atomic.stagingPath(for: path)
        do {
            let tar = try TarWriter(sink: try FileSink(path: staging), mtime: mtime)
            let configName = "\(image.manifest.config.digest.encoded).json"
            try Self.add(tar, name: configName, data: image.configData)
            var names: [String] = []
            var written: Set<Digest> = []
            for layer in try await remotes.downloaded(image.layers, into: staging + ".layers") {
                let name = "\(layer.diffID.encoded).tar"
                names.append(name)
                guard written.insert(layer.diffID).inserted else { continue }
                try Self.addLayer(tar, name: name, layer: layer)
            }
            let tags = reference.map { ["\($0.familiarName):\($0.tagOrLatest)"] }
            try Self.add(tar, name: "manifest.json",
                    data: CanonicalJSON.encode([ManifestEntry(Config: configName, RepoTags: tags, Layers: names)]))
            try tar.finish()
            try? FileManager.default.removeItem(atPath: staging + ".layers")
            try Atomic.rename(staging, to: path)
        } catch {
            unlink(staging)
            try? FileManager.default.removeItem(atPath: staging + ".layers")
            throw error
        }
        return nil
    }

    static func add(_ tar: TarWriter, name: String, data: Data) throws {
        try tar.addFile(path: name, mode: 0o644, size: Int64(data.count)) { write in
            try data.withUnsafeBytes { try write($0) }
        }
    }

    static func addLayer(_ tar: TarWriter, name: String, layer: Layer) throws {
        let size: Int64
        if let known = layer.uncompressedSize {
            size = known
        } else {
            let measured = try Decompressor.diffID(path: try layer.localPath())
            guard measured.digest == layer.diffID else {
                throw ImageError.source("layer \(layer.descriptor.digest) decompresses to \(measured.digest), but the config says \(layer.diffID)")
            }
            size = measured.size
        }
        var counter = DigestCounter()
        try tar.addFile(path: name, mode: 0o644, size: size) { write in
            try Decompressor.stream(path: try layer.localPath()) { bytes in
                counter.update(bytes)
                try write(bytes)
            }
        }
        guard counter.finalize() == layer.diffID else {
            throw ImageError.output("layer \(layer.descriptor.digest) changed while it was being written")
        }
    }
}
