import Archive
import Foundation
import OCI

/// Writes an image as a `docker load` / `docker-archive:` tarball: `manifest.json`, the config as
/// `<hex>.json`, and each layer uncompressed as `<diffID hex>.tar`, as `docker save` and skopeo do.
/// Layers stream from their blobs through a decompressor; each is checked against its diffID.
public enum DockerArchiveOutput {
    struct ManifestEntry: Encodable {
        var Config: String
        var RepoTags: [String]?
        var Layers: [String]
    }

    public static func write(_ image: Image, to path: String, reference: Reference?, mtime: Int64) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw BuildError.output("\(path) is a directory")
        }
        let staging = try Atomic.stagingPath(for: path)
        do {
            let tar = try TarWriter(sink: try FileSink(path: staging), mtime: mtime)
            let configName = "\(image.manifest.config.digest.encoded).json"
            try add(tar, name: configName, data: image.configData)
            var names: [String] = []
            var written: Set<Digest> = []
            for layer in image.layers {
                let name = "\(layer.diffID.encoded).tar"
                names.append(name)
                guard written.insert(layer.diffID).inserted else { continue }
                try addLayer(tar, name: name, layer: layer)
            }
            let tags = reference.map { ["\($0.familiarName):\($0.tagOrLatest)"] }
            try add(tar, name: "manifest.json",
                    data: CanonicalJSON.encode([ManifestEntry(Config: configName, RepoTags: tags, Layers: names)]))
            try tar.finish()
            try Atomic.rename(staging, to: path)
        } catch {
            unlink(staging)
            throw error
        }
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
            let measured = try Decompressor.diffID(path: layer.blobPath)
            guard measured.digest == layer.diffID else {
                throw BuildError.base("layer \(layer.descriptor.digest) decompresses to \(measured.digest), but the config says \(layer.diffID)")
            }
            size = measured.size
        }
        var counter = DigestCounter()
        try tar.addFile(path: name, mode: 0o644, size: size) { write in
            try Decompressor.stream(path: layer.blobPath) { bytes in
                counter.update(bytes)
                try write(bytes)
            }
        }
        guard counter.finalize() == layer.diffID else {
            throw BuildError.output("layer \(layer.descriptor.digest) changed while it was being written")
        }
    }
}
