import Foundation
@testable import Run
import Testing
import TestSupport

@Suite struct UnpackTests {
    @Test func whiteoutsOpaqueDirectoriesAndHardLinks() throws {
        let root = try TestRoot()
        try root.apply([
            [.dir("etc/"), .file("etc/a", "1"), .file("etc/b", "2"), .file("keep", "k"), .file("gone", "g"),
             .dir("dir/"), .dir("dir/sub/"), .file("dir/sub/x", "x"), .file("dir/sub/y", "y"), .dir("old/"), .file("old/f", "f")],
            [.dir("etc/"), .file("etc/new", "written before the marker"), .file("etc/.wh..wh..opq", ""), .file("etc/c", "3"),
             .file(".wh.gone", ""), .file("dir/sub/.wh.x", ""), .file(".wh.old", ""),
             .hardlink("etc/c-again", to: "etc/c"), .hardlink("y-link", to: "dir/sub/y"), .symlink("c", to: "/etc/c")],
        ])
        #expect(root.listing() == ["c", "dir/", "dir/sub/", "dir/sub/y", "etc/", "etc/c", "etc/c-again", "etc/new", "keep", "y-link"])
        #expect(root.contents("etc/c-again") == "3")
        #expect(root.info("etc/c")?.st_ino == root.info("etc/c-again")?.st_ino)
        #expect(root.info("dir/sub/y")?.st_ino == root.info("y-link")?.st_ino)
        #expect(root.link("c") == "/etc/c")
        #expect(root.contents("etc/new") == "written before the marker")
    }

    @Test func anOpaqueDirectoryEmptiesLowerSubdirectoriesThisLayerMergesInto() throws {
        let root = try TestRoot()
        try root.apply([
            [.dir("app/"), .dir("app/lib/"), .file("app/lib/old.py", "old"), .file("app/top.py", "top")],
            [.dir("app/"), .file("app/.wh..wh..opq", ""), .dir("app/lib/"), .file("app/lib/new.py", "new")],
        ])
        #expect(root.listing() == ["app/", "app/lib/", "app/lib/new.py"])
    }

    @Test func laterLayersReplaceFilesWithDirectoriesAndBack() throws {
        let root = try TestRoot()
        try root.apply([
            [.file("a", "file"), .dir("b/"), .file("b/inner", "i"), .file("c", "c")],
            [.dir("a/"), .file("a/x", "x"), .file("b", "now a file"), .symlink("c", to: "a/x")],
        ])
        #expect(root.listing() == ["a/", "a/x", "b", "c"])
        #expect(root.contents("b") == "now a file")
        #expect(root.link("c") == "a/x")
    }

    @Test func absoluteSymlinkDirectoriesResolveInsideTheRoot() throws {
        let root = try TestRoot()
        try root.apply([
            [.dir("usr/"), .dir("usr/lib/"), .symlink("lib", to: "/usr/lib"), .symlink("lib64", to: "usr/lib")],
            [.file("lib/libfoo.so", "foo"), .file("lib64/libbar.so", "bar")],
        ])
        #expect(root.link("lib") == "/usr/lib")
        #expect(root.contents("usr/lib/libfoo.so") == "foo")
        #expect(root.contents("usr/lib/libbar.so") == "bar")
        // A directory member where a symlink is replaces the link, as containerd and Docker do.
        try root.apply([[.dir("lib64/"), .file("lib64/own.so", "own")]])
        #expect(root.link("lib64") == nil)
        #expect(root.contents("lib64/own.so") == "own")
        #expect(root.contents("usr/lib/libbar.so") == "bar")
    }

    /// The brief's hostile layer: `evil -> /tmp/…` and then `evil/file`, in one layer and across two.
    @Test func aSymlinkOutOfTheRootIsNeverWrittenThrough() throws {
        let outside = try TemporaryDirectory("run-outside")
        try outside.write("victim", "untouched")
        for layers: [[Member]] in [
            [[.symlink("evil", to: outside.path), .file("evil/file", "pwned"), .file("evil/victim", "pwned")]],
            [[.symlink("evil", to: outside.path)], [.file("evil/file", "pwned"), .file("evil/.wh.victim", "")]],
            [[.symlink("up", to: "../../../../../../../.." + outside.path)], [.file("up/file", "pwned")]],
            [[.dir("d/"), .symlink("d/loop", to: "../d/../../../../../../../.." + outside.path)], [.dir("d/loop/file/")]],
        ] {
            let root = try TestRoot()
            try root.apply(layers)
            #expect(!FileManager.default.fileExists(atPath: outside.file("file")))
            #expect(FileManager.default.contents(atPath: outside.file("victim")) == Data("untouched".utf8))
            // The link resolves as it would inside the container: to the same path under the root.
            let inside = String(outside.path.dropFirst())
            #expect(root.contents(inside + "/file") == "pwned" || root.info(inside + "/file") != nil)
        }
    }

    @Test func aMemberReplacesASymlinkAtItsOwnPathRatherThanWritingThroughIt() throws {
        let outside = try TemporaryDirectory("run-outside")
        try outside.write("victim", "untouched")
        let root = try TestRoot()
        try root.apply([[.symlink("x", to: outside.file("victim")), .symlink("y", to: outside.file("victim"))],
                        [.file("x", "pwned"), .hardlink("y", to: "x")]])
        #expect(FileManager.default.contents(atPath: outside.file("victim")) == Data("untouched".utf8))
        #expect(root.link("x") == nil && root.contents("x") == "pwned")
        #expect(root.link("y") == nil && root.contents("y") == "pwned")
    }

    @Test func hardLinksCannotReachOutsideTheRoot() throws {
        let outside = try TemporaryDirectory("run-outside")
        try outside.write("secret", "host secret")
        let throughLink = try TestRoot()
        let error = try #require(throws: RunError.self) {
            try throughLink.apply([[.symlink("evil", to: outside.path), .hardlink("stolen", to: "evil/secret")]])
        }
        #expect(error.description.contains("which is not in the image"))
        #expect(throughLink.info("stolen") == nil)
        let climbing = try TestRoot()
        #expect(throws: RunError.self) { try climbing.apply([[.hardlink("stolen", to: "../../../../../../../.." + outside.path + "/secret")]]) }
        #expect(climbing.info("stolen") == nil)
    }

    @Test func dotDotThatClimbsOutIsRefused() throws {
        for path in ["../escape", "a/../../escape", "./../escape"] {
            let root = try TestRoot()
            let error = try #require(throws: RunError.self) { try root.apply([[.file(path, "x")]]) }
            #expect(error.description.contains("climbs out of the image root"), "\(error)")
            #expect(error.description.contains("layer0"))
        }
        let fine = try TestRoot()
        try fine.apply([[.dir("a/"), .file("a/../b", "b"), .file("./c/./d", "d")]])
        #expect(fine.listing() == ["a/", "b", "c/", "c/d"])
    }

    @Test func nonASCIINames() throws {
        let root = try TestRoot()
        try root.apply([
            [.dir("données/"), .file("données/données.txt", "é"), .file("模型.bin", "weights"), .symlink("modèle", to: "模型.bin")],
            [.file("données/.wh.données.txt", ""), .file("données/résumé.md", "r"), .hardlink("模型-copy.bin", to: "模型.bin")],
        ])
        #expect(root.listing() == ["données/", "données/résumé.md", "modèle", "模型-copy.bin", "模型.bin"])
        #expect(root.contents("modèle") == "weights")
        #expect(root.contents("模型-copy.bin") == "weights")
    }

    @Test func modesAreKeptAndReadOnlyDirectoriesStillFill() throws {
        let root = try TestRoot()
        try root.apply([
            [.dir("ro/", mode: 0o555), .file("ro/inside", "i", mode: 0o640), .file("tool", "t", mode: 0o4755), .dir("tmp/", mode: 0o1777)],
            [.file("ro/later", "l", mode: 0o600)],
        ])
        #expect((root.info("ro")?.st_mode ?? 0) & 0o7777 == 0o555)
        #expect((root.info("ro/inside")?.st_mode ?? 0) & 0o7777 == 0o640)
        #expect((root.info("tool")?.st_mode ?? 0) & 0o7777 == 0o4755)
        #expect((root.info("tmp")?.st_mode ?? 0) & 0o7777 == 0o1777)
        #expect(root.contents("ro/later") == "l")
        #expect(root.info("tool")?.st_mtim.tv_sec == 1_000_000)
    }

    @Test(.enabled(if: geteuid() == 0, "keeping owners needs root"))
    func ownersAreKeptWhenRoot() throws {
        let directory = try TemporaryDirectory("run-owners")
        try directory.write("src/app/data.bin", "d")
        try directory.symlink("src/app/link", to: "data.bin")
        let tar = try run("tar", ["-czf", directory.file("layer.tar.gz"), "-C", directory.file("src"), "--owner=1234", "--group=5678",
                                  "--numeric-owner", "app"])
        #expect(tar.status == 0, "\(tar.stderr)")
        try directory.mkdir("rootfs")
        let unpacker = try LayerUnpacker(rootPath: directory.file("rootfs"))
        try unpacker.apply(layerAt: directory.file("layer.tar.gz"), name: "gnu")
        try unpacker.finish()
        for path in ["app", "app/data.bin", "app/link"] {
            var info = stat()
            #expect(lstat(directory.file("rootfs/" + path), &info) == 0)
            #expect(info.st_uid == 1234 && info.st_gid == 5678, "\(path)")
        }
    }

    @Test func devicesAndFifosAreSkipped() throws {
        let directory = try TemporaryDirectory("run-fifo")
        try directory.mkdir("src")
        #expect(mkfifo(directory.file("src/pipe"), 0o644) == 0)
        try directory.write("src/file", "f")
        #expect(try run("tar", ["-czf", directory.file("layer.tar.gz"), "-C", directory.file("src"), "."]).status == 0)
        try directory.mkdir("rootfs")
        let unpacker = try LayerUnpacker(rootPath: directory.file("rootfs"))
        try unpacker.apply(layerAt: directory.file("layer.tar.gz"), name: "fifo")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.file("rootfs")) == ["file"])
    }
}
