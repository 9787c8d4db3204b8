import Archive
import Foundation
import OCI

/// Opens a stored image for reading: `oci:DIR[:TAG]` or `docker-archive:FILE`.
public enum ImageReader {
    /// Opens `source`. A docker-archive is unpacked into `scratch` (streamed, never held in memory).
    public static func open(_ source: String, platform: Platform?, scratch: URL) throws -> Image {
        if let rest = source.dropPrefix("oci:") {
            let (path, tag) = OutputTarget.split(rest)
            let layout = try Layout.open(path)
            let found = try layout.resolveImage(tag: tag, platform: platform ?? .host)
            return try image(in: layout, manifest: found.descriptor)
        }
        if let rest = source.dropPrefix("docker-archive:") {
            return try openDockerArchive(String(OutputTarget.split(rest).0), scratch: scratch)
        }
        throw BuildError.invalidArgument("image '\(source)': expected oci:DIR[:TAG] or docker-archive:FILE")
    }

    /// The image whose manifest `descriptor` names in `layout`, every JSON blob verified.
    public static func image(in layout: Layout, manifest descriptor: Descriptor) throws -> Image {
        let manifestData = try layout.readJSONBlob(descriptor)
        let manifest = try Manifest.decode(manifestData, what: "manifest \(descriptor.digest)")
        let configData = try layout.readJSONBlob(manifest.config)
        let config = try ImageConfiguration.decode(configData, layerCount: manifest.layers.count,
                                                   what: "config \(manifest.config.digest) in \(layout.root.path)")
        let layers = zip(manifest.layers, config.rootfs.diffIDs).map {
            Layer(descriptor: $0, diffID: $1, blobPath: layout.blobURL($0.digest).path, uncompressedSize: nil)
        }
        return Image(manifest: manifest, manifestData: manifestData, config: config, configData: configData, layers: layers)
    }

    struct ArchiveManifestEntry: Decodable {
        var Config: String
        var Layers: [String]
    }

    static func openDockerArchive(_ path: String, scratch: URL) throws -> Image {
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
            throw BuildError.invalidArgument("docker-archive:\(path): no manifest.json")
        }
        let entries = try CanonicalJSON.decode([ArchiveManifestEntry].self, from: manifestData, what: "\(path) manifest.json")
        guard entries.count == 1, let entry = entries.first else {
            throw BuildError.invalidArgument("docker-archive:\(path): holds \(entries.count) images; only single-image archives are read")
        }
        guard let configPath = files[entry.Config], let configData = FileManager.default.contents(atPath: configPath) else {
            throw BuildError.invalidArgument("docker-archive:\(path): config \(entry.Config) is missing")
        }
        let config = try ImageConfiguration.decode(configData, layerCount: entry.Layers.count, what: "\(path) \(entry.Config)")
        var layers: [Layer] = []
        for (name, diffID) in zip(entry.Layers, config.rootfs.diffIDs) {
            guard let layerPath = files[name] else { throw BuildError.invalidArgument("docker-archive:\(path): layer \(name) is missing") }
            let measured = try Decompressor.diffID(path: layerPath)
            guard measured.digest == diffID else {
                throw BuildError.invalidArgument("docker-archive:\(path): layer \(name) has digest \(measured.digest), config says \(diffID)")
            }
            let size = Int64((try? FileManager.default.attributesOfItem(atPath: layerPath)[.size] as? Int) ?? 0)
            let blobDigest = try DigestFile.sha256(path: layerPath)
            layers.append(Layer(descriptor: Descriptor(mediaType: MediaType.ociLayer, digest: blobDigest, size: size),
                                diffID: diffID, blobPath: layerPath, uncompressedSize: measured.size))
        }
        // The archive has no registry manifest; describe it as the OCI manifest of its contents.
        var image = try Image(config: config, layers: layers)
        image.configData = configData
        return image
    }
}

enum DigestFile {
    static func sha256(path: String) throws -> Digest {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ArchiveError.missingSource(path) }
        defer { try? handle.close() }
        var counter = DigestCounter()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            chunk.withUnsafeBytes { counter.update($0) }
        }
        return counter.finalize()
    }
}
