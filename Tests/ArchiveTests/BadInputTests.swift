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

/// Names read from archives: a package member whose name is not UTF-8 is refused with its bytes shown;
/// an image layer is only scanned, so it reads with replacement characters. Decomposed accents stay as
/// they are (libarchive's UTF-8 getters would otherwise normalise them).
@Suite struct ArchiveNameTests {
    @Test func nonUTF8MemberNames() throws {
        let directory = try TemporaryDirectory()
        let made = try run("/bin/sh", ["-c", "cd \"$1\" && mkdir t && printf x > t/$(printf 'bad-\\377.txt') && printf y > t/$(printf 'e\\314\\201.txt') && tar --format=gnu -cf a.tar -C t .", "sh", directory.path])
        #expect(made.status == 0, "\(made.stderr)")
        let strict = try TarReader(path: directory.file("a.tar"), strictNames: true)
        let error = #expect(throws: ArchiveError.self) { while try strict.next() != nil {} }
        #expect(error.map { "\($0)" }?.contains("'./bad-\\xff.txt': its name is not valid UTF-8") == true, "\(String(describing: error))")
        let lenient = try TarReader(path: directory.file("a.tar"))
        var names: [[UInt8]] = []
        while let member = try lenient.next() { names.append(Array(member.path.utf8)) }
        #expect(names.contains(Array("./bad-\u{FFFD}.txt".utf8)))
        #expect(names.contains(Array("./e\u{301}.txt".utf8)), "the decomposed name keeps its bytes")
    }
}
