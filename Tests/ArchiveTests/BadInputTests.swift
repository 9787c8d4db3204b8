import Archive
import Plan
import Foundation
import Testing
import TestSupport

@Suite struct BadInputTests {
    @Test func missingSource() throws {
        #expect { try EntryCollector.collect([LayerInput(source: "/nonexistent/kiln/model", destination: "/m")]) } throws: { error in
            "\(error)" == "source not found: /nonexistent/kiln/model"
        }
    }

    @Test(arguments: ["../../etc/passwd", "/etc/passwd", "sub/../../..", "../up/../../outside"])
    func symlinkEscapes(_ target: String) throws {
        let directory = try TemporaryDirectory()
        try directory.write("root/sub/file", "x")
        try directory.mkdir("root/up")
        try directory.symlink("root/sub/evil", to: target)
        #expect { try EntryCollector.collect([LayerInput(source: directory.file("root"), destination: "/app")]) } throws: { error in
            "\(error)".contains("escapes its source root")
        }
    }

    @Test func symlinkEscapeThroughAnotherLink() throws {
        // `here -> .` is harmless alone; `here/../..`, read lexically, looks inside, but walks out.
        let directory = try TemporaryDirectory()
        try directory.write("root/a/f", "x")
        try directory.symlink("root/a/here", to: ".")
        try directory.symlink("root/a/sneaky", to: "here/../../..")
        #expect(throws: ArchiveError.self) {
            try EntryCollector.collect([LayerInput(source: directory.file("root"), destination: "/app")])
        }
    }

    @Test func symlinksInsideTheRootAreKept() throws {
        let directory = try TemporaryDirectory()
        try directory.write("root/lib/libx.so.1", "elf")
        try directory.symlink("root/lib/libx.so", to: "libx.so.1")
        try directory.symlink("root/current", to: "lib/../lib")
        try directory.symlink("root/dangling", to: "not-yet")
        let entries = try EntryCollector.collect([LayerInput(source: directory.file("root"), destination: "/opt")])
        #expect(entries.contains { $0.path == "opt/lib/libx.so" && $0.kind == .symlink(target: "libx.so.1") })
        #expect(entries.contains { $0.path == "opt/dangling" })
    }

    @Test func fifoIsRefused() throws {
        let directory = try TemporaryDirectory()
        try directory.mkdir("root")
        #expect(mkfifo(directory.file("root/pipe"), 0o644) == 0)
        #expect { try EntryCollector.collect([LayerInput(source: directory.file("root"), destination: "/x")]) } throws: { error in
            "\(error)".hasPrefix("unsupported file type")
        }
    }

    @Test func conflictingDestinations() throws {
        let directory = try TemporaryDirectory()
        try directory.write("a", "1")
        try directory.write("b", "2")
        #expect { try EntryCollector.collect([LayerInput(source: directory.file("a"), destination: "/x"),
                                              LayerInput(source: directory.file("b"), destination: "/x")]) } throws: { error in
            "\(error)".hasPrefix("two inputs map to /x")
        }
    }

    @Test(arguments: ["relative/path", "/a/../../etc"])
    func invalidDestination(_ destination: String) throws {
        let directory = try TemporaryDirectory()
        try directory.write("a", "1")
        #expect(throws: ArchiveError.self) {
            try EntryCollector.collect([LayerInput(source: directory.file("a"), destination: destination)])
        }
    }

    @Test func fileThatGrowsDuringTheBuildFailsAndLeavesNoBlob() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("model.bin", "short")
        let entries = try EntryCollector.collect([LayerInput(source: path, destination: "/m.bin")])
        try directory.write("model.bin", "now it is much longer than before")
        #expect { try LayerWriter.write(entries: entries, compression: .gzip, mtime: 0, to: directory.file("out")) } throws: { error in
            "\(error)".hasPrefix("file changed while the layer was being written")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("out")))
    }
}
