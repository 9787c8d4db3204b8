import Archive
import Foundation
import Testing
@testable import Environments
import TestSupport

/// The base image's python and glibc read in one pass over its layers: a later layer's libc and python win,
/// whiteouts apply, version strings cut by a read boundary still count, and the glibc answer the python
/// probe stored is used without reading the layers again.
struct BaseProbeTests {
    /// Tar paths as layers spell them, plain (the fast path) or not: the same cleaned path and split either way.
    @Test func pathsAreCleanedAsBefore() {
        let cases = ["./usr/bin/python3": "/usr/bin/python3", "usr/lib/": "/usr/lib", "./": "/", ".": "/", "": "/",
                     "/etc//passwd": "/etc/passwd", "a/./b": "/a/b", "a/../b": "/b", "../../etc": "/etc", "./a/b/..": "/a",
                     "usr/share/données/é.txt": "/usr/share/données/é.txt", "a/.../b": "/a/.../b", "a/.wh.b": "/a/.wh.b"]
        for (raw, cleaned) in cases { #expect(PythonProbe.Tree.clean(raw) == cleaned, "\(raw)") }
        #expect(PythonProbe.Tree.split("/usr/bin/python3") == ("/usr/bin", "python3"))
        #expect(PythonProbe.Tree.split("/usr") == ("/", "usr"))
        #expect(PythonProbe.Tree.split("/") == ("/", ""))
    }

    /// Two gzip layers, named by their sha256 as blobs are, in `directory`; their paths, oldest first.
    static func layers(in directory: String) throws -> [String] {
        let script = #"""
        import gzip, hashlib, io, os, sys, tarfile
        out = sys.argv[1]
        def binary(version, count):
            # Megabytes of version strings back to back, each NUL ending one and starting the next, so that every
            # read boundary cuts one; then decoys that are not versions (a 4-digit part, two parts, no closing NUL).
            return (b"\0" + version) * count + b"\0" + b"\x003.11.4000\0 \x003.9\0 \x003.11.8x"
        def layer(members):
            raw = io.BytesIO()
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for name, kind, payload in members:
                    info = tarfile.TarInfo(name); info.mtime = 0
                    if kind == "f": info.size = len(payload); tar.addfile(info, io.BytesIO(payload))
                    elif kind == "l": info.type = tarfile.SYMTYPE; info.linkname = payload; tar.addfile(info)
                    elif kind == "d": info.type = tarfile.DIRTYPE; tar.addfile(info)
            blob = gzip.compress(raw.getvalue(), mtime=0)
            path = os.path.join(out, hashlib.sha256(blob).hexdigest())
            open(path, "wb").write(blob)
            print(path)
        layer([("usr/lib/x86_64-linux-gnu/libc.so.6", "f", b"\0GNU C Library (Debian) release version 2.31.\n"),
               ("usr/bin/python3.9", "f", binary(b"3.9.7", 1000)), ("usr/bin/python3", "l", "python3.9"),
               ("usr/lib/python3/dist-packages", "d", None)])
        layer([("usr/lib/x86_64-linux-gnu/libc.so.6", "f", b"\0GNU C Library (Debian) release version 2.36.\n"),
               ("usr/bin/.wh.python3.9", "f", b""), ("usr/bin/python3.11", "f", binary(b"3.11.4", 400_001)),
               ("usr/bin/python3", "l", "python3.11")])
        """#
        let result = try run("python3", ["-c", script, directory])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout.split(separator: "\n").map(String.init)
    }

    @Test func onePassReadsPythonAndGlibc() throws {
        let work = try TemporaryDirectory("base-probe")
        let layers = try Self.layers(in: work.path)
        let scan = try PythonProbe.Scan(layers: layers)
        let twoPass = try GlibcProbe.read(layers)
        #expect(scan.glibc == "2.36" && scan.glibc == twoPass)
        #expect(scan.versions["/usr/bin/python3.11"] == ["3.11.4": 400_001], "every string counted once, no decoy")
        #expect(scan.tree.entries["/usr/bin/python3.9"] == nil, "the whiteout applies")

        let cache = try TemporaryDirectory("base-probe-cache")
        let found = try #require(try PythonProbe.find(inLayers: layers, hint: nil, cache: cache.url))
        #expect(found == PythonProbe.Found(interpreter: "/usr/bin/python3", version: "3.11.4", sitePackages: "/usr/local/lib/python3.11/dist-packages",
                                           scripts: "/usr/local/bin", dataPrefix: "/usr/local"))
        // The glibc came from the same pass: with the layers gone, the cache still answers.
        let moved = layers.map { $0 + ".gone" }
        for (from, to) in zip(layers, moved) { try FileManager.default.moveItem(atPath: from, toPath: to) }
        defer { for (from, to) in zip(moved, layers) { try? FileManager.default.moveItem(atPath: from, toPath: to) } }
        let glibc = try GlibcProbe.version(inLayers: layers, cache: cache.url)
        #expect(glibc == "2.36")
    }

    /// The early answer is what the layers read so far give (python 3.9 still, with the second layer's glibc), told once;
    /// the final answers equal `find`'s and `GlibcProbe`'s, and are kept in the cache for both.
    @Test func answersComeEarlyThenFinal() throws {
        let work = try TemporaryDirectory("base-probe-ahead")
        let layers = try Self.layers(in: work.path)
        let cache = try TemporaryDirectory("base-probe-ahead-cache")
        var early: [PythonProbe.Answers] = []
        let answers = try PythonProbe.answers(inLayers: layers, hint: nil, needsGlibc: true, cache: cache.url) { early.append($0) }
        #expect(early.count == 1)
        #expect(early.first?.python?.version == "3.9.7" && early.first?.python?.sitePackages == "/usr/local/lib/python3.9/dist-packages")
        #expect(early.first?.glibc == "2.36")
        #expect(answers.python == (try PythonProbe.find(inLayers: layers, hint: nil)) && answers.python?.version == "3.11.4")
        #expect(answers.glibc == "2.36")
        #expect(PythonProbe.isCached(inLayers: layers, hint: nil, cache: cache.url) && GlibcProbe.isCached(inLayers: layers, cache: cache.url))

        // The first layer alone: its python3 link comes after the interpreter and nothing follows it, so no early answer.
        var none = 0
        let first = try PythonProbe.answers(inLayers: [layers[0]], hint: nil, needsGlibc: true, cache: nil) { _ in none += 1 }
        #expect(none == 0 && first.python?.version == "3.9.7" && first.glibc == "2.31")
    }

    /// One gzip layer in a sorted Debian tar's order (etc, usr/bin, usr/lib), whose ldd states glibc 2.36 and whose
    /// libc is `libc`; its path.
    static func debianLayer(in directory: String, libc: String, debianVersion: Bool = true) throws -> String {
        let script = #"""
        import gzip, io, os, sys, tarfile
        out, libc, debian = sys.argv[1], sys.argv[2].encode(), sys.argv[3] == "1"
        ldd = b"#! /bin/bash\nTEXTDOMAIN=libc\ncase $1 in\n  --version)\n    echo 'ldd (Debian GLIBC 2.36-9+deb12u4) 2.36'\n    exit 0 ;;\nesac\n"
        members = ([("etc/debian_version", b"12.8\n")] if debian else []) + [
            ("usr/bin/ldd", ldd), ("usr/bin/python3", "python3.11"),
            ("usr/bin/python3.11", (b"\0" + b"3.11.2") * 50 + b"\0"), ("usr/lib/python3/dist-packages", None),
            ("usr/lib/x86_64-linux-gnu/libc.so.6", b"\0GNU C Library (Debian GLIBC) release version " + libc + b".\n")]
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, payload in members:
                info = tarfile.TarInfo(name); info.mtime = 0
                if payload is None: info.type = tarfile.DIRTYPE; tar.addfile(info)
                elif isinstance(payload, str): info.type = tarfile.SYMTYPE; info.linkname = payload; tar.addfile(info)
                else: info.size = len(payload); tar.addfile(info, io.BytesIO(payload))
        path = os.path.join(out, "layer-" + sys.argv[2] + ("-debian" if debian else ""))
        open(path, "wb").write(gzip.compress(raw.getvalue(), mtime=0))
        print(path)
        """#
        let result = try run("python3", ["-c", script, directory, libc, debianVersion ? "1" : "0"])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// In a Debian layer the early answer comes with the interpreter, before libc: its glibc is the one ldd states and its
    /// packages go to /usr/local's dist-packages because /etc/debian_version is there. A libc that disagrees with ldd
    /// makes the final answer differ, which is how a build knows to install again.
    @Test func lddAndDebianVersionAnswerBeforeLibc() throws {
        let work = try TemporaryDirectory("base-probe-ldd")
        for libc in ["2.36", "2.37"] {
            let layer = try Self.debianLayer(in: work.path, libc: libc)
            var early: [PythonProbe.Answers] = []
            let answers = try PythonProbe.answers(inLayers: [layer], hint: nil, needsGlibc: true, cache: nil) { early.append($0) }
            let python = PythonProbe.Found(interpreter: "/usr/bin/python3", version: "3.11.2", sitePackages: "/usr/local/lib/python3.11/dist-packages",
                                           scripts: "/usr/local/bin", dataPrefix: "/usr/local")
            #expect(early == [PythonProbe.Answers(python: python, glibc: "2.36")], "libc \(libc)")
            #expect(answers == PythonProbe.Answers(python: python, glibc: libc), "the final glibc is libc's own")
        }
        // Without /etc/debian_version, the early answer cannot tell Debian's layout yet: it guesses the plain one, and the
        // final answer (dist-packages seen) corrects it.
        let plain = try Self.debianLayer(in: work.path, libc: "2.36", debianVersion: false)
        var early: [PythonProbe.Answers] = []
        let answers = try PythonProbe.answers(inLayers: [plain], hint: nil, needsGlibc: true, cache: nil) { early.append($0) }
        #expect(early.first?.python?.sitePackages == "/usr/lib/python3.11/site-packages")
        #expect(answers.python?.sitePackages == "/usr/local/lib/python3.11/dist-packages")
    }

    /// The version line of ldd as Debian, Ubuntu and Red Hat write it; musl's ldd and odd versions state none.
    @Test func lddVersionLines() throws {
        let work = try TemporaryDirectory("base-probe-ldd-lines")
        let cases: [(String, String?)] = [
            ("    echo 'ldd (Debian GLIBC 2.36-9+deb12u4) 2.36'", "2.36"),
            ("    echo 'ldd (Ubuntu GLIBC 2.35-0ubuntu3.8) 2.35'", "2.35"),
            ("    echo 'ldd (GNU libc) 2.34'", "2.34"),
            ("exec /lib/ld-musl-x86_64.so.1 --list \"$@\"", nil),
            ("    echo 'ldd (GNU libc) 2.34.1'", nil),
            ("    echo 'ldd (GNU libc) two'", nil),
        ]
        for (number, (line, expected)) in cases.enumerated() {
            let script = work.file("ldd-\(number)")
            try Data("#!/bin/sh\n\(line)\n".utf8).write(to: URL(fileURLWithPath: script))
            let tar = work.file("ldd-\(number).tar")
            let made = try run("tar", ["-cf", tar, "--transform", "s,.*,usr/bin/ldd,", "-C", work.path, "ldd-\(number)"])
            #expect(made.status == 0, "\(made.stderr)")
            let reader = try TarReader(path: tar)
            let member = try #require(try reader.next())
            #expect(try GlibcProbe.lddVersion(of: member, reader: reader) == expected, "\(line)")
        }
    }
}
