import Archive
import Foundation
import Images
import OCI
import Plan
import Testing
import TestSupport

/// The layer cache's key is the sha256 of a text that names every entry with the stat fields of its file.
/// The walk's stamps stand in for a second stat, and the text stays what it was, so caches made before
/// still hit.
@Suite struct LayerCacheKeyTests {
    /// The key's text as it was first written, with string interpolation and an lstat per file.
    static func referenceKey(_ entries: [LayerEntry], compression: LayerCompression, epoch: Int64) -> String {
        let engine = (try? DeflateEngine.current.get())?.rawValue ?? "?"
        var text = "kiln-layer-cache \(LayerCache.formatVersion) \(compression.rawValue) \(engine) \(epoch)\n"
        for entry in entries {
            text += "\(entry.path)\u{0}\(entry.mode)\u{0}"
            switch entry.kind {
            case let .file(source, size):
                var info = stat()
                _ = lstat(source.path, &info)
                text += "f \(size) \(info.st_dev) \(info.st_ino) \(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec) \(info.st_ctim.tv_sec).\(info.st_ctim.tv_nsec)\n"
            default:
                text += "\(entry.kind)\n"
            }
        }
        return Digest.sha256(of: Data(text.utf8)).encoded
    }

    @Test func theWalksStampsGiveTheKeyAnLstatGives() throws {
        let work = try TemporaryDirectory("cache-key")
        try work.write("src/données.txt", "a\n")
        try work.write("src/bin/run", "#!/bin/sh\n", mode: 0o755)
        try FileManager.default.createSymbolicLink(atPath: work.file("src/link"), withDestinationPath: "données.txt")
        let (entries, stamps) = try EntryCollector.collectStamped([LayerInput(source: work.file("src"), destination: "/app")])
        #expect(stamps.count == entries.count && stamps.contains { $0 != nil })
        let key = try #require(LayerCache.key(entries, stamps: stamps, compression: .gzip, epoch: 7))
        #expect(key == Self.referenceKey(entries, compression: .gzip, epoch: 7))
        // Without stamps (files an installer staged), the key examines the files itself and agrees.
        #expect(LayerCache.key(entries, compression: .gzip, epoch: 7) == key)
    }

    @Test func aChangedFileChangesTheKey() throws {
        let work = try TemporaryDirectory("cache-key-change")
        try work.write("src/score.py", "def run(): pass\n")
        let first = try EntryCollector.collectStamped([LayerInput(source: work.file("src"), destination: "/app")])
        let before = try #require(LayerCache.key(first.entries, stamps: first.stamps, compression: .gzip, epoch: 0))
        try work.write("src/score.py", "def run(): return 1\n")
        let second = try EntryCollector.collectStamped([LayerInput(source: work.file("src"), destination: "/app")])
        let after = try #require(LayerCache.key(second.entries, stamps: second.stamps, compression: .gzip, epoch: 0))
        #expect(before != after)
    }
}
