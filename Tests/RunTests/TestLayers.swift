import Archive
import Foundation
import Images
import OCI
@testable import Run
import TestSupport

/// One member of a hand-made test layer, written exactly as given (hostile paths included).
enum Member {
    case dir(String, mode: UInt32 = 0o755)
    case file(String, String, mode: UInt32 = 0o644)
    case symlink(String, to: String)
    case hardlink(String, to: String)
}

/// Writes `members`, in order, as a gzip-compressed tar at `name` in `directory`.
@discardableResult
func writeLayer(_ members: [Member], in directory: TemporaryDirectory, name: String) throws -> String {
    let path = directory.file(name)
    let tar = try TarWriter(sink: try GzipSink(next: try FileSink(path: path)), mtime: 1_000_000)
    for member in members {
        switch member {
        case let .dir(path, mode): try tar.addHeaderOnly(LayerEntry(path: path, kind: .directory, mode: mode))
        case let .symlink(path, target): try tar.addHeaderOnly(LayerEntry(path: path, kind: .symlink(target: target), mode: 0o777))
        case let .hardlink(path, target): try tar.addHeaderOnly(LayerEntry(path: path, kind: .hardlink(target: target), mode: 0o644))
        case let .file(path, contents, mode):
            let data = Data(contents.utf8)
            try tar.addFile(path: path, mode: mode, size: Int64(data.count)) { write in try data.withUnsafeBytes { try write($0) } }
        }
    }
    try tar.finish()
    return path
}

/// A rootfs in a temporary directory, with layers applied by `LayerUnpacker`.
struct TestRoot {
    let directory: TemporaryDirectory
    var rootfs: String { directory.file("rootfs") }

    init() throws {
        directory = try TemporaryDirectory("run-unpack")
        try directory.mkdir("rootfs")
    }

    /// Applies each list of members as one layer, bottom first.
    func apply(_ layers: [[Member]]) throws {
        let unpacker = try LayerUnpacker(rootPath: rootfs)
        for (number, members) in layers.enumerated() {
            let path = try writeLayer(members, in: directory, name: "layer\(number).tar.gz")
            try unpacker.apply(layerAt: path, name: "layer\(number)")
        }
        try unpacker.finish()
    }

    /// The rootfs-relative paths of everything in the rootfs, sorted, directories with a trailing `/`.
    func listing() -> [String] {
        var result: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: rootfs)
        while let relative = enumerator?.nextObject() as? String {
            let attributes = try? FileManager.default.attributesOfItem(atPath: rootfs + "/" + relative)
            result.append(relative + ((attributes?[.type] as? FileAttributeType) == .typeDirectory ? "/" : ""))
        }
        return result.sorted()
    }

    func contents(_ relative: String) -> String? {
        FileManager.default.contents(atPath: rootfs + "/" + relative).map { String(decoding: $0, as: UTF8.self) }
    }

    func link(_ relative: String) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: rootfs + "/" + relative)
    }

    func info(_ relative: String) -> stat? {
        var info = stat()
        return lstat(rootfs + "/" + relative, &info) == 0 ? info : nil
    }
}

/// An image of `layers` (each a list of members) over no base, with `config`, its blobs in `directory`.
func testImage(_ layers: [[Member]], config: ContainerConfig, in directory: TemporaryDirectory) throws -> Image {
    var built: [Layer] = []
    for (number, members) in layers.enumerated() {
        let path = try writeLayer(members, in: directory, name: "image-layer\(number).tar.gz")
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let diffID = try Decompressor.diffID(path: path).digest
        built.append(Layer(descriptor: Descriptor(mediaType: MediaType.ociLayerGzip, digest: Digest.sha256(of: data), size: Int64(data.count)),
                           diffID: diffID, blob: .file(path)))
    }
    return try Image(config: ImageConfiguration(platform: .host, config: config, diffIDs: built.map(\.diffID)), layers: built)
}
