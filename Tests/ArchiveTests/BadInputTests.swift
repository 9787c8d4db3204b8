import Archive
import Plan
import Foundation
#if canImport(Glibc)
import Glibc
#endif
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

/// `FileSink(replacing:mode:)`, which conda extraction writes package files with: a new file every time.
struct ReplacingFileSinkTests {
    @Test func replacesAFileOrASymlinkAndKeepsTheExactMode() throws {
        let directory = try TemporaryDirectory("sink")
        let outside = try directory.write("outside.txt", "keep me")
        let target = directory.file("member")
        // A symlink where the member goes (a tar that names a path twice): replaced, never written through.
        #expect(symlink(outside, target) == 0)
        let first = try FileSink(replacing: target, mode: 0o4755)
        try Data("new".utf8).withUnsafeBytes { try first.write($0) }
        try first.finish()
        #expect(try String(contentsOfFile: outside, encoding: .utf8) == "keep me")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "new")
        var info = stat()
        #expect(lstat(target, &info) == 0 && info.st_mode & S_IFMT == S_IFREG)
        // Whatever the umask: setuid and group/other bits stay as asked.
        #expect(info.st_mode & 0o7777 == 0o4755)
        // A plain file there: replaced (not truncated in place: a hard link to it keeps the old bytes), with the new mode.
        #expect(link(target, directory.file("other-link")) == 0)
        let second = try FileSink(replacing: target, mode: 0o600)
        try second.finish()
        #expect(lstat(target, &info) == 0 && info.st_mode & 0o7777 == 0o600 && info.st_size == 0)
        #expect(try String(contentsOfFile: directory.file("other-link"), encoding: .utf8) == "new")
        // A directory on the way cannot be created over: one error naming the path.
        let blocked = directory.file("outside.txt/member")
        #expect(throws: ArchiveError.self) { try FileSink(replacing: blocked, mode: 0o644) }
    }
}
