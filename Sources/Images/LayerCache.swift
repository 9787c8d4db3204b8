import Archive
import Foundation
import OCI

/// Finished layers, found again by the metadata of their inputs, so a rebuild that changed only the code
/// does not read, tar, compress and hash the model again (Jib's selector cache works this way).
///
/// The key hashes, for every entry of the layer in its sorted order, its path, kind, mode and link target,
/// and for a file the source's device, inode, size, mtime and ctime (to the nanosecond); then the
/// compression, the deflate engine, the epoch and `formatVersion`. A file rewritten in place with its old size and times
/// restored would be missed, as by make and Jib; `--no-cache` rebuilds everything.
///
/// `<directory>/<key>.json` holds the layer's descriptor and diffID; `<directory>/blobs/sha256/<hex>` its
/// bytes, hard-linked to the build's blob where the file system allows. Both land by rename, so concurrent
/// builds and a build killed mid-write never leave an entry that names a missing or partial blob.
public struct LayerCache: Sendable {
    /// Bump when the same inputs would make different layer bytes (a new gzip rule, tar header rule).
    /// 3: gzip's compressible blocks deflated by ISA-L where it is the engine (the engine is in the key too).
    public static let formatVersion = 3

    public let directory: URL
    /// The most bytes of blobs kept; the least recently used entries go first. `KILN_LAYER_CACHE_GIB`
    /// sets it in GiB (default 10).
    public var capacity: Int64

    public init(directory: URL, capacity: Int64 = LayerCache.defaultCapacity) {
        self.directory = directory
        self.capacity = capacity
    }

    public static var defaultCapacity: Int64 {
        let gibibytes = ProcessInfo.processInfo.environment["KILN_LAYER_CACHE_GIB"].flatMap(Double.init) ?? 10
        return Int64(max(0, gibibytes) * Double(1 << 30))
    }

    struct Entry: Codable {
        var descriptor: Descriptor
        var diffID: Digest
        var uncompressedSize: Int64
    }

    /// The cached layer for `key`, when its entry and its whole blob are there.
    public func layer(for key: String) -> Layer? {
        guard let data = FileManager.default.contents(atPath: entryPath(key)),
              let entry = try? JSONDecoder().decode(Entry.self, from: data) else { return nil }
        let blob = blobPath(entry.descriptor.digest)
        guard let size = (try? FileManager.default.attributesOfItem(atPath: blob)[.size] as? NSNumber)?.int64Value,
              size == entry.descriptor.size else { return nil }
        // Used now: eviction takes the entries used longest ago.
        utimes(entryPath(key), nil)
        return Layer(descriptor: entry.descriptor, diffID: entry.diffID, blob: .file(blob), uncompressedSize: entry.uncompressedSize)
    }

    /// Records `layer` (whose blob is a file) under `key`. A cache that cannot be written is skipped:
    /// it only saves time.
    public func store(_ layer: Layer, for key: String) {
        guard let source = layer.path else { return }
        do {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent("blobs/sha256"), withIntermediateDirectories: true)
            try Atomic.placeBlob(from: source, at: blobPath(layer.descriptor.digest))
            let entry = Entry(descriptor: layer.descriptor, diffID: layer.diffID, uncompressedSize: layer.uncompressedSize ?? 0)
            try Atomic.write(CanonicalJSON.encode(entry), to: entryPath(key))
            evict()
        } catch {
            return
        }
    }

    /// Removes the least recently used entries, and blobs no entry names, until the blobs fit `capacity`.
    func evict() {
        let fm = FileManager.default
        let names = (try? fm.contentsOfDirectory(atPath: directory.path)) ?? []
        var entries: [(key: String, used: Date, digest: String)] = names.filter { $0.hasSuffix(".json") }.compactMap { name in
            let path = directory.appendingPathComponent(name).path
            guard let data = fm.contents(atPath: path), let entry = try? JSONDecoder().decode(Entry.self, from: data),
                  let used = (try? fm.attributesOfItem(atPath: path))?[.modificationDate] as? Date else { return nil }
            return (String(name.dropLast(5)), used, entry.descriptor.digest.encoded)
        }
        let blobs = directory.appendingPathComponent("blobs/sha256").path
        var sizes: [String: Int64] = [:]
        for name in (try? fm.contentsOfDirectory(atPath: blobs)) ?? [] where !name.hasPrefix(".") {
            sizes[name] = ((try? fm.attributesOfItem(atPath: blobs + "/" + name))?[.size] as? NSNumber)?.int64Value ?? 0
        }
        for orphan in Set(sizes.keys).subtracting(entries.map(\.digest)) {
            unlink(blobs + "/" + orphan)
            sizes[orphan] = nil
        }
        var total = sizes.values.reduce(0, +)
        entries.sort { $0.used < $1.used }
        while total > capacity, let oldest = entries.first {
            entries.removeFirst()
            unlink(entryPath(oldest.key))
            if !entries.contains(where: { $0.digest == oldest.digest }), let size = sizes.removeValue(forKey: oldest.digest) {
                unlink(blobs + "/" + oldest.digest)
                total -= size
            }
        }
    }

    func entryPath(_ key: String) -> String { directory.appendingPathComponent(key + ".json").path }
    func blobPath(_ digest: Digest) -> String { directory.appendingPathComponent("blobs/sha256/" + digest.encoded).path }
}
