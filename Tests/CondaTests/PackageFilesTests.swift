import Archive
import Foundation
import Testing
@testable import Conda
import TestSupport

/// A package unpacked into its pack (`PackageFiles`): each member kind, a member given twice, hard links
/// and symlinks as the linker reads them, and the errors for a broken pack or a link to nothing.
struct PackageFilesTests {
    /// Writes a `.tar.bz2` of `members` (name, kind, payload): kind "f" file (payload: text), "d" directory,
    /// "l" symlink and "h" hard link (payload: target). `info/` comes first, with a paths.json listing every file and link.
    static func package(_ members: [(String, String, String)], at path: String) throws {
        let script = """
        import bz2, io, json, sys, tarfile
        members = json.loads(sys.argv[2])
        paths = [{"_path": n, "path_type": "hardlink", "size_in_bytes": len(p.encode())} for n, k, p in members if k == "f"]
        paths += [{"_path": n, "path_type": "hardlink" if k == "h" else "softlink"} for n, k, p in members if k in "hl"]
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            def add(name, kind, payload, mode=0o644):
                info = tarfile.TarInfo(name); info.mtime = 1672531200; info.mode = mode
                data = b""
                if kind == "f": data = payload.encode(); info.size = len(data)
                elif kind == "d": info.type = tarfile.DIRTYPE; info.mode = 0o755
                elif kind == "l": info.type = tarfile.SYMTYPE; info.linkname = payload
                elif kind == "h": info.type = tarfile.LNKTYPE; info.linkname = payload
                tar.addfile(info, io.BytesIO(data) if kind == "f" else None)
            add("info/index.json", "f", json.dumps({"name": "demo", "version": "1.0", "build": "0"}))
            add("info/paths.json", "f", json.dumps({"paths": paths, "paths_version": 1}))
            for name, kind, payload in members: add(name, kind, payload, 0o755 if name.startswith("bin/") else 0o644)
        open(sys.argv[1], "wb").write(bz2.compress(out.getvalue()))
        """
        let encoded = String(decoding: try JSONSerialization.data(withJSONObject: members.map { [$0.0, $0.1, $0.2] }), as: UTF8.self)
        let result = try run("python3", ["-c", script, path, encoded])
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test func membersLinksAndRepeatsReadAsAnUnpackedTreeWould() throws {
        let work = try TemporaryDirectory("package-files")
        let archive = work.file("demo-1.0-0.tar.bz2")
        try Self.package([("lib", "d", ""), ("lib/libdemo.so.1", "f", "first copy"), ("bin/données-tool", "f", "#!/bin/sh\necho ok\n"),
                          ("lib/libdemo.so.1", "f", "the second copy wins"), ("lib/libdemo.so", "l", "libdemo.so.1"),
                          ("lib/hard", "h", "bin/données-tool"), ("share/dangling", "l", "../lib/missing")], at: archive)
        let directory = work.url.appendingPathComponent("unpacked")
        try PackageArchive.extract(URL(fileURLWithPath: archive), into: directory)
        // info/ is files; nothing else is, besides the pack and its index.
        let top = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(top == ["files.index", "files.pack", "info"])
        let files = try PackageFiles.open(directory, what: "demo")
        let tool = try #require(files.file("bin/données-tool"))
        let script = try files.data(tool, path: "bin/données-tool")
        #expect(tool.mode == 0o755 && String(decoding: script, as: UTF8.self) == "#!/bin/sh\necho ok\n")
        let library = try #require(files.file("lib/libdemo.so"))
        #expect(library == files.file("lib/libdemo.so.1"), "the symlink is followed inside the package")
        let bytes = try files.data(library, path: "lib/libdemo.so")
        #expect(String(decoding: bytes, as: UTF8.self) == "the second copy wins")
        #expect(files.member("lib/libdemo.so")?.kind == .symlink && files.member("lib/libdemo.so")?.link == "libdemo.so.1")
        #expect(files.file("lib/hard") == tool, "a hard link shares its target's bytes")
        #expect(files.file("share/dangling") == nil && files.file("lib") == nil && files.file("nothing") == nil)
        #expect(files.isDirectory("lib") && files.isDirectory("share") && !files.isDirectory("bin/données-tool"))
        let range = files.range(tool, path: "bin/données-tool")
        #expect(range.path == directory.appendingPathComponent("files.pack").path && range.size == 18 && range.name == "demo: bin/données-tool")

        // Linked into a prefix (no layer): the same bytes, modes and links.
        let record = try PackageRecord(fileName: "demo-1.0-0.tar.bz2", raw: ["name": .string("demo"), "version": .string("1.0"), "build": .string("0")],
                                       channel: "file:///demo", subdir: "linux-64")
        var linker = Linker(prefix: "/opt/demo", root: work.url.appendingPathComponent("prefix"))
        try linker.install([(record, directory)], requested: [])
        #expect(try String(contentsOfFile: work.file("prefix/lib/libdemo.so.1"), encoding: .utf8) == "the second copy wins")
        #expect(try String(contentsOfFile: work.file("prefix/lib/hard"), encoding: .utf8) == "#!/bin/sh\necho ok\n")
        let mode = try #require(FileManager.default.attributesOfItem(atPath: work.file("prefix/bin/données-tool"))[.posixPermissions] as? Int)
        #expect(mode == 0o755)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: work.file("prefix/share/dangling")) == "../lib/missing")

        // Hard links to the package's file tree, made from the pack by the first install into a directory; a
        // hard link inside the package is one file there too.
        let linked = try FileManager.default.attributesOfItem(atPath: work.file("prefix/lib/hard"))
        let inTree = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("tree/\(tool.offset)-\(tool.size)-755").path)
        #expect(linked[.systemFileNumber] as? Int == inTree[.systemFileNumber] as? Int)
        #expect((linked[.referenceCount] as? Int ?? 0) >= 3, "the tree's file, bin/données-tool and lib/hard")

        // Into another filesystem (/dev/shm, where there is one): copies, the same bytes and modes.
        if let shm = try? FileManager.default.attributesOfItem(atPath: "/dev/shm")[.systemNumber] as? Int,
           shm != (try FileManager.default.attributesOfItem(atPath: work.path)[.systemNumber] as? Int) {
            let elsewhere = URL(fileURLWithPath: "/dev/shm/kiln-package-files-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: elsewhere) }
            var copying = Linker(prefix: "/opt/demo", root: elsewhere)
            try copying.install([(record, directory)], requested: [])
            let copied = try FileManager.default.attributesOfItem(atPath: elsewhere.path + "/lib/hard")
            #expect(copied[.referenceCount] as? Int == 1 && copied[.posixPermissions] as? Int == 0o755)
            #expect(try String(contentsOfFile: elsewhere.path + "/lib/libdemo.so.1", encoding: .utf8) == "the second copy wins")
        }

        // A pack cut short since it was written, with no tree yet: the install names the package and the file.
        try FileManager.default.removeItem(at: directory.appendingPathComponent("tree"))
        let pack = directory.appendingPathComponent("files.pack")
        let handle = try FileHandle(forWritingTo: pack)
        try handle.truncate(atOffset: UInt64(tool.offset + 4))
        try handle.close()
        var again = Linker(prefix: "/opt/demo", root: work.url.appendingPathComponent("prefix-2"))
        let error = #expect(throws: CondaError.self) { try again.install([(record, directory)], requested: []) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("demo-1.0-0.tar.bz2: \(pack.path) is cut short at "))
    }

    @Test func aHardLinkToNothingAndADamagedIndexAreRefused() throws {
        let work = try TemporaryDirectory("package-files-bad")
        let archive = work.file("demo-1.0-0.tar.bz2")
        try Self.package([("lib/a", "f", "a"), ("lib/b", "h", "lib/nowhere")], at: archive)
        let directory = work.url.appendingPathComponent("unpacked")
        let error = #expect(throws: CondaError.self) { try PackageArchive.extract(URL(fileURLWithPath: archive), into: directory) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("hard link lib/b names a missing member"))
        #expect(!FileManager.default.fileExists(atPath: directory.path), "nothing left behind")

        try Self.package([("lib/a", "f", "a")], at: archive)
        try PackageArchive.extract(URL(fileURLWithPath: archive), into: directory)
        try Data("f 644 0\u{0}lib/a\u{0}".utf8).write(to: directory.appendingPathComponent("files.index"))
        let damaged = #expect(throws: CondaError.self) { try PackageFiles.open(directory, what: "demo") }
        #expect("\(damaged.map { "\($0)" } ?? "")".contains("is damaged; remove its directory to unpack it again"))
        try FileManager.default.removeItem(at: directory.appendingPathComponent("files.index"))
        #expect(!PackageFiles.isComplete(directory))
    }

    /// For a layer (`kiln build`), files go to the layer from the pack; the few the staged tree needs on disk
    /// (python metadata, which pip reads) are copied, and the package's tree of hard-link sources is not made.
    @Test func aBuildCopiesMetadataWithoutMakingTheTree() throws {
        let work = try TemporaryDirectory("package-files")
        let archive = work.file("demo-1.0-0.tar.bz2")
        try Self.package([("lib/python3.11/site-packages/démo-1.0.dist-info/METADATA", "f", "Name: démo\nVersion: 1.0\n"),
                          ("lib/libdemo.so.1", "f", "library bytes")], at: archive)
        let directory = work.url.appendingPathComponent("unpacked")
        try PackageArchive.extract(URL(fileURLWithPath: archive), into: directory)
        let record = try PackageRecord(fileName: "demo-1.0-0.tar.bz2", raw: ["name": .string("demo"), "version": .string("1.0"), "build": .string("0")],
                                       channel: "file:///demo", subdir: "linux-64")
        let root = work.url.appendingPathComponent("staged")
        var linker = Linker(prefix: "/opt/demo", root: root)
        let deferred = DeferredMembers()
        linker.deferred = deferred
        try linker.install([(record, directory)], requested: [])
        let metadata = root.appendingPathComponent("lib/python3.11/site-packages/démo-1.0.dist-info/METADATA").path
        #expect(try String(contentsOfFile: metadata, encoding: .utf8) == "Name: démo\nVersion: 1.0\n")
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("lib/libdemo.so.1").path), "left to the layer")
        #expect(deferred.size(of: root.appendingPathComponent("lib/libdemo.so.1").path) == 13)
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("tree").path), "no tree for a build")
    }
}
