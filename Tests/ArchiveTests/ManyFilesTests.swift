import Archive
import Plan
import Foundation
import OCI
import Testing
import TestSupport

/// Trees of many files: the walk lists directories on several threads and the writer reads small files
/// ahead on a thread of its own. The layer must hold what the files hold, in the sorted order, and a file
/// that changes or vanishes between the walk and the write still fails the build in one line.
@Suite struct ManyFilesTests {
    /// 30 directories of 20 small files (some non-ASCII, some empty), with a 300 KiB file every 97 files
    /// that the writer streams itself, between files read ahead.
    static func makeTree(_ directory: TemporaryDirectory) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for d in 0..<30 {
            for f in 0..<20 {
                let name = "tree/d\(d)/\(f % 3 == 0 ? "données-" : "f")\(f).txt"
                let number = d * 20 + f
                let data = number % 97 == 0 ? Data((0..<(300 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ number) })
                    : number % 11 == 0 ? Data() : Data("file \(number)\n".utf8)
                try directory.write(name, data)
                files[name.replacingOccurrences(of: "tree/", with: "srv/")] = data
            }
        }
        try directory.mkdir("tree/d7/empty/deeper")
        // Names that sort between a directory's entry and its contents ('.', '-' and ' ' come before '/').
        for name in ["d1.txt", "d1-old", "d1 copy", "d1/é/z", "d10/.hidden"] {
            try directory.write("tree/" + name, name)
            files["srv/" + name] = Data(name.utf8)
        }
        return files
    }

    @Test func aLayerOfManyFilesHoldsEachFileInOrder() throws {
        let directory = try TemporaryDirectory()
        let files = try Self.makeTree(directory)
        let entries = try EntryCollector.collect([LayerInput(source: directory.file("tree"), destination: "/srv")])
        #expect(entries.map(\.path) == entries.map(\.path).sorted { LayerEntry.precedes($0, $1) })
        #expect(entries.contains { $0.path == "srv/d7/empty/deeper" && $0.kind == .directory })
        let blob = try LayerWriter.write(entries: entries, compression: .gzip, mtime: 0, to: directory.file("layer"))
        var seen: [String: Digest] = [:]
        for (member, digest) in try members(of: blob.path) where member.kind == .file {
            seen[member.path] = digest
        }
        #expect(seen.count == files.count)
        for (path, data) in files {
            #expect(seen[path] == Digest.sha256(of: data), "\(path)")
        }
        // The same tree, collected and written again, gives the same bytes.
        let again = try LayerWriter.write(entries: try EntryCollector.collect([LayerInput(source: directory.file("tree"), destination: "/srv")]),
                                          compression: .gzip, mtime: 0, to: directory.file("again"))
        #expect(again.digest == blob.digest && again.diffID == blob.diffID)
        // One thread walks to the same entries as several.
        for threads in [1, 3] {
            #expect(try EntryCollector.collect([LayerInput(source: directory.file("tree"), destination: "/srv")], threads: threads) == entries)
        }
    }

    @Test(arguments: ["removed", "grown", "shrunk", "symlink", "fifo", "large symlink"])
    func aFileThatChangesAfterTheWalkFailsAndLeavesNoBlob(_ change: String) throws {
        let directory = try TemporaryDirectory()
        _ = try Self.makeTree(directory)
        let entries = try EntryCollector.collect([LayerInput(source: directory.file("tree"), destination: "/srv")])
        // A small file, read ahead; or the 300 KiB one, which the writer streams itself.
        let victim = directory.file(change == "large symlink" ? "tree/d4/f17.txt" : "tree/d20/f5.txt")
        switch change {
        case "removed": try FileManager.default.removeItem(atPath: victim)
        case "grown": try directory.write("tree/d20/f5.txt", "file 405 and then a good deal more\n")
        case "shrunk": try directory.write("tree/d20/f5.txt", "f")
        case "fifo":
            // Read without blocking: opened for reading, a FIFO would wait for a writer forever.
            try FileManager.default.removeItem(atPath: victim)
            #expect(mkfifo(victim, 0o644) == 0)
        default:
            // A symlink to a file outside the tree with the same bytes: never followed.
            let bytes = try Data(contentsOf: URL(fileURLWithPath: victim))
            try FileManager.default.removeItem(atPath: victim)
            let outside = try directory.write("outside", bytes)
            try FileManager.default.createSymbolicLink(atPath: victim, withDestinationPath: outside)
        }
        #expect { try LayerWriter.write(entries: entries, compression: .gzip, mtime: 0, to: directory.file("out")) } throws: { error in
            "\(error)" == "file changed while the layer was being written: \(victim)"
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("out")))
    }

    /// Each of several bad entries would stop the walk; whichever thread meets one, the error reported is
    /// the one a depth-first walk on one thread meets first, so it is the same every time.
    @Test func theWalksErrorIsTheSameEveryTime() throws {
        let directory = try TemporaryDirectory()
        _ = try Self.makeTree(directory)
        for d in [3, 11, 19, 27] {
            try directory.symlink("tree/d\(d)/escape", to: "../../../outside-\(d)")
        }
        var messages: Set<String> = []
        for _ in 0..<20 {
            do {
                _ = try EntryCollector.collect([LayerInput(source: directory.file("tree"), destination: "/srv")])
                Issue.record("the walk did not fail")
            } catch {
                messages.insert("\(error)")
            }
        }
        #expect(messages.count == 1, "\(messages)")
        #expect(messages.first?.contains("escapes its source root") == true, "\(messages)")
    }
}
