import Archive
import Plan
import Foundation
import OCI
import Testing
import TestSupport

/// Reads every member of a layer back with libarchive: (path, kind, mode, size, link target, data digest).
func members(of path: String) throws -> [(TarMember, Digest?)] {
    let reader = try TarReader(path: path)
    var result: [(TarMember, Digest?)] = []
    while let member = try reader.next() {
        result.append((member, member.kind == .file ? try reader.digestData() : nil))
    }
    return result
}

func writeLayer(_ inputs: [LayerInput], compression: LayerCompression = .gzip, mtime: Int64 = 0,
                in directory: TemporaryDirectory, name: String = "layer") throws -> LayerBlob {
    try LayerWriter.write(entries: EntryCollector.collect(inputs), compression: compression, mtime: mtime,
                          to: directory.file(name))
}

@Suite struct LayerWriterTests {
    /// Two copies of one tree that differ in mtimes, permissions beyond the executable bit, and absolute path.
    func makeTree(_ directory: TemporaryDirectory, mtime: Date, umaskedMode: Int) throws -> String {
        try directory.write("src/score.py", "def run(x):\n    return x\n", mode: umaskedMode)
        try directory.write("src/bin/serve", "#!/bin/sh\necho serve\n", mode: 0o700)
        try directory.write("src/data/z.txt", "zzz", mode: umaskedMode)
        try directory.write("src/data/a.txt", "aaa", mode: umaskedMode)
        try directory.symlink("src/data/current", to: "a.txt")
        for file in ["src/score.py", "src/bin/serve", "src/data/z.txt", "src/data/a.txt", "src/data", "src"] {
            try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: directory.file(file))
        }
        return directory.file("src")
    }

    @Test func sameTreeSameDigestsWhateverMtimeModeAndPath() throws {
        let one = try TemporaryDirectory("one")
        let two = try TemporaryDirectory("two-with-a-longer-name")
        let a = try writeLayer([LayerInput(source: makeTree(one, mtime: Date(timeIntervalSince1970: 1000), umaskedMode: 0o600), destination: "/app")], in: one)
        let b = try writeLayer([LayerInput(source: makeTree(two, mtime: Date(), umaskedMode: 0o664), destination: "/app")], in: two)
        #expect(a.digest == b.digest)
        #expect(a.diffID == b.diffID)
        let c = try writeLayer([LayerInput(source: two.file("src"), destination: "/app")], mtime: 1_700_000_000, in: two, name: "c")
        #expect(c.diffID != b.diffID)
    }

    @Test func normalisesHeadersSortsAndAddsParents() throws {
        let directory = try TemporaryDirectory()
        try directory.write("src/b.txt", "b", mode: 0o600)
        try directory.write("src/a/x.sh", "#!/bin/sh", mode: 0o744)
        try directory.symlink("src/link", to: "a/x.sh")
        let blob = try writeLayer([LayerInput(source: directory.file("src"), destination: "/opt/app")], mtime: 1234, in: directory)
        let read = try members(of: blob.path)
        #expect(read.map(\.0.path) == ["opt/", "opt/app/", "opt/app/a/", "opt/app/a/x.sh", "opt/app/b.txt", "opt/app/link"])
        for (member, _) in read {
            #expect(member.uid == 0 && member.gid == 0 && member.mtime == 1234)
        }
        #expect(read[3].0.mode == 0o755)
        #expect(read[4].0.mode == 0o644)
        #expect(read[5].0.kind == .symlink && read[5].0.linkTarget == "a/x.sh")
        #expect(read[0].0.mode == 0o755)
    }

    @Test func gzipHeaderIsFixed() throws {
        let directory = try TemporaryDirectory()
        try directory.write("f", "x")
        let blob = try writeLayer([LayerInput(source: directory.file("f"), destination: "/f")], in: directory)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: blob.path)).prefix(10))
        // magic, deflate, no flags, mtime 0, xfl, OS 255.
        #expect(bytes[0] == 0x1f && bytes[1] == 0x8b && bytes[2] == 8 && bytes[3] == 0)
        #expect(bytes[4...7].allSatisfy { $0 == 0 })
        #expect(bytes[9] == 255)
        #expect(blob.mediaType == MediaType.ociLayerGzip)
    }

    @Test(arguments: LayerCompression.allCases)
    func digestsMatchTheBytes(_ compression: LayerCompression) throws {
        let directory = try TemporaryDirectory()
        try directory.write("model.bin", Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }))
        let blob = try writeLayer([LayerInput(source: directory.file("model.bin"), destination: "/m/")],
                                  compression: compression, in: directory)
        let data = try Data(contentsOf: URL(fileURLWithPath: blob.path))
        #expect(Digest.sha256(of: data) == blob.digest)
        #expect(Int64(data.count) == blob.size)
        let tar = try Decompressor.diffID(path: blob.path)
        #expect(tar.digest == blob.diffID)
        #expect(tar.size == blob.uncompressedSize)
        #expect(blob.mediaType == compression.ociMediaType)
        #expect(try members(of: blob.path).map(\.0.path) == ["m/", "m/model.bin"])
    }

    @Test func multiBlockGzipIsValidAndStable() throws {
        // Several 1 MiB blocks, compressible and not, so the block boundaries and dictionaries matter.
        let directory = try TemporaryDirectory()
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<2_500_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let text = Data(String(repeating: "the quick brown fox jumps over the lazy dog\n", count: 80_000).utf8)
        try directory.write("in/noise.bin", Data(noise))
        try directory.write("in/text.txt", text)
        let first = try writeLayer([LayerInput(source: directory.file("in"), destination: "/m")], in: directory, name: "one")
        let second = try writeLayer([LayerInput(source: directory.file("in"), destination: "/m")], in: directory, name: "two")
        #expect(first.digest == second.digest)
        #expect(first.uncompressedSize > 5_000_000)
        #expect(first.size < first.uncompressedSize)
        // GNU gzip, an independent reader, checks the CRC and length and gives back the same tar.
        let check = try run("sh", ["-c", "gzip -t \(first.path) && gzip -dc \(first.path) | sha256sum"])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.hasPrefix(first.diffID.encoded))
    }

    @Test func longPathsUsePax() throws {
        let directory = try TemporaryDirectory()
        let deep = (0..<12).map { "directory-number-\($0)" }.joined(separator: "/")
        try directory.write("src/\(deep)/a-file-with-a-rather-long-name-to-pass-one-hundred-bytes.txt", "deep")
        let blob = try writeLayer([LayerInput(source: directory.file("src"), destination: "/d")], compression: .none, in: directory)
        let expected = "d/\(deep)/a-file-with-a-rather-long-name-to-pass-one-hundred-bytes.txt"
        #expect(expected.utf8.count > 255)
        #expect(try members(of: blob.path).contains { $0.0.path == expected })
        // GNU tar, an independent reader, sees the same name.
        let listing = try run("tar", ["-tf", blob.path])
        #expect(listing.status == 0)
        #expect(listing.stdout.split(separator: "\n").contains(Substring(expected)))
    }

    @Test func filesOver8GiBUsePaxSize() throws {
        // The header of a member larger than ustar's 8 GiB limit, written through the real tar writer;
        // the data is streamed zeros, and only the first blocks are kept for reading back.
        let directory = try TemporaryDirectory()
        let capture = PrefixSink(keep: 64 * 1024)
        let tar = try TarWriter(sink: capture, mtime: 0)
        let size: Int64 = 8 * 1024 * 1024 * 1024 + 513
        let zeros = [UInt8](repeating: 0, count: 4 << 20)
        try tar.addFile(path: "model/huge.bin", mode: 0o644, size: size) { write in
            var left = size
            try zeros.withUnsafeBytes { chunk in
                while left > 0 {
                    let count = Int(min(Int64(chunk.count), left))
                    try write(UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
                    left -= Int64(count)
                }
            }
        }
        try tar.finish()
        #expect(capture.total > size)
        try Data(capture.kept).write(to: URL(fileURLWithPath: directory.file("head.tar")))
        let reader = try TarReader(path: directory.file("head.tar"))
        let member = try #require(try reader.next())
        #expect(member.path == "model/huge.bin")
        #expect(member.size == size)
    }

    @Test func hardlinksAreStoredOnce() throws {
        let directory = try TemporaryDirectory()
        let original = try directory.write("src/weights.bin", Data(repeating: 7, count: 100_000))
        try FileManager.default.linkItem(atPath: original, toPath: directory.file("src/z-alias.bin"))
        try FileManager.default.linkItem(atPath: original, toPath: directory.file("src/a-alias.bin"))
        let blob = try writeLayer([LayerInput(source: directory.file("src"), destination: "/m")], compression: .none, in: directory)
        let read = try members(of: blob.path)
        let files = read.filter { $0.0.kind == .file }
        let links = read.filter { $0.0.kind == .hardlink }
        #expect(files.map(\.0.path) == ["m/a-alias.bin"])
        #expect(links.map(\.0.path) == ["m/weights.bin", "m/z-alias.bin"])
        #expect(links.allSatisfy { $0.0.linkTarget == "m/a-alias.bin" })
        #expect(blob.uncompressedSize < 150_000)
    }

    /// Files staged as ranges of one pack (a conda package's) are read at their offsets, in path order whatever
    /// their order in the pack; a pack cut short since is a change during the build, with no blob left.
    @Test func rangesOfAPackAreReadAtTheirOffsets() throws {
        let directory = try TemporaryDirectory()
        let pack = try directory.write("files.pack", Data("first-bytes|second|données".utf8))
        try directory.mkdir("tree")
        func range(_ offset: Int64, _ size: Int64, _ name: String) -> StagedMember.Source {
            .range(FileRange(path: pack, offset: offset, size: size, name: "demo: \(name)"))
        }
        let staged = [StagedMember(path: "lib/b.txt", source: range(0, 11, "lib/b.txt"), mode: 0o644),
                      StagedMember(path: "bin/tool", source: range(12, 6, "bin/tool"), mode: 0o755),
                      StagedMember(path: "lib/a-données.txt", source: range(19, 8, "lib/a-données.txt"), mode: 0o644)]
        let input = LayerInput(source: directory.file("tree"), destination: "/opt/env", members: staged)
        let blob = try writeLayer([input], compression: .gzip, in: directory)
        let files = try members(of: blob.path).filter { $0.0.kind == .file }
        #expect(files.map(\.0.path) == ["opt/env/bin/tool", "opt/env/lib/a-données.txt", "opt/env/lib/b.txt"])
        #expect(files.map(\.1) == ["second", "données", "first-bytes"].map { Digest.sha256(of: Data($0.utf8)) })
        #expect(files.map(\.0.mode) == [0o755, 0o644, 0o644])

        try Data("first-bytes|sec".utf8).write(to: URL(fileURLWithPath: pack))
        let error = #expect(throws: ArchiveError.self) { try writeLayer([input], compression: .gzip, in: directory, name: "cut") }
        #expect("\(error.map { "\($0)" } ?? "")" == "file changed while the layer was being written: \(pack) (demo: bin/tool)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("cut")))
    }

    @Test func fileDestinationRules() throws {
        let directory = try TemporaryDirectory()
        try directory.write("score.py", "x")
        let entries = try EntryCollector.collect([
            LayerInput(source: directory.file("score.py"), destination: "/app/"),
            LayerInput(source: directory.file("score.py"), destination: "/srv/main.py"),
        ])
        #expect(entries.map(\.path) == ["app", "app/score.py", "srv", "srv/main.py"])
    }
}

/// Keeps the first `keep` bytes and counts the rest.
final class PrefixSink: ByteSink {
    let keep: Int
    var kept: [UInt8] = []
    var total: Int64 = 0
    init(keep: Int) { self.keep = keep }
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if kept.count < keep { kept.append(contentsOf: bytes.prefix(keep - kept.count)) }
        total += Int64(bytes.count)
    }
    func finish() throws {}
}
