import Foundation
import Testing
import TestSupport

/// Any name a Linux file system allows is archived exactly and read back exactly by GNU tar and umoci, in
/// whatever locale kiln runs; a name that is not UTF-8 is refused in one line (PAX names are UTF-8).
/// CI runs this against the release binary too (KILN_BIN).
@Suite struct FileNameTests {
    /// 32 names that break naive code: non-ASCII (accents, CJK, emoji, combining marks), 255 bytes, spaces,
    /// control characters, shell and glob metacharacters, leading dashes, dots.
    static let names = [
        "données.txt", "模型.bin", "😀 emoji.txt", "e\u{301}-combining.txt", "ß-straße", "Ελληνικά", "مرحبا.txt",
        String(repeating: "a", count: 255), String(repeating: "é", count: 127) + "x", "with space", "new\nline", "tab\tname",
        "back\\slash", "-leading-dash", "--double-dash", "quote\"d", "single'q", "$dollar", "*star", "?question", "[brackets]",
        "percent%20", "colon:name", "semi;colon", "amp&", "pipe|", "lt<gt>", "hash#", ".hidden", "..dots", "ends.", "UPPER",
    ]

    static func tree() throws -> TemporaryDirectory {
        let root = try TemporaryDirectory("names")
        for (index, name) in names.enumerated() { try root.write("t/\(name)", "file \(index)\n") }
        try root.write("t/dir with space/модель/weights.bin", "w")
        try root.symlink("t/link → données", to: "données.txt")
        return root
    }

    /// Relative paths under `directory`, sorted, as the file system has them.
    static func listing(_ directory: String) -> [String] {
        var paths: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let path = enumerator?.nextObject() as? String { paths.append(path) }
        return paths.sorted()
    }

    @Test(arguments: ["C", "C.UTF-8", "fr_FR.ISO-8859-1"])
    func everyNameRoundTripsThroughUmoci(locale: String) throws {
        let root = try Self.tree()
        let out = try TemporaryDirectory("out")
        _ = try KilnBinary.build(["--base", "scratch", "--add", "\(root.file("t")):/data", "--output", "oci:\(out.file("img")):1"],
                                 environment: ["LC_ALL": locale, "LANG": locale])
        let unpacked = try run("umoci", ["unpack", "--rootless", "--image", out.file("img") + ":1", out.file("bundle")])
        #expect(unpacked.status == 0, "\(unpacked.stderr)")
        let expected = Self.listing(root.file("t"))
        #expect(expected.count >= 35)
        #expect(Self.listing(out.file("bundle/rootfs/data")) == expected)
        for (index, name) in Self.names.enumerated() {
            #expect((try? String(contentsOfFile: out.file("bundle/rootfs/data/\(name)"), encoding: .utf8)) == "file \(index)\n", "\(Array(name.utf8))")
        }
    }

    /// An output on another file system than its base's layout (/dev/shm, tmpfs), under a directory whose name is not
    /// ASCII: the base's blobs cannot be hard-linked and are copied in the kernel (`FileCopy`), and umoci, which checks
    /// every blob against its digest, unpacks base and new layer alike.
    @Test func aBaseLayoutOnAnotherFileSystemIsCopiedWhole() throws {
        guard FileManager.default.isWritableFile(atPath: "/dev/shm") else { return }
        let root = try Self.tree()
        let base = try TemporaryDirectory("names-base")
        _ = try KilnBinary.build(["--base", "scratch", "--add", "\(root.file("t")):/data", "--output", "oci:\(base.file("img")):1"])
        let shm = try TemporaryDirectory("names-shm", in: "/dev/shm")
        let output = shm.file("données 模型/img")
        try FileManager.default.createDirectory(atPath: shm.file("données 模型"), withIntermediateDirectories: false)
        try root.write("more/été.txt", "summer\n")
        _ = try KilnBinary.build(["--base", "oci:\(base.file("img")):1", "--add", "\(root.file("more")):/more", "--output", "oci:\(output):1"])
        let unpacked = try run("umoci", ["unpack", "--rootless", "--image", output + ":1", shm.file("bundle")])
        #expect(unpacked.status == 0, "\(unpacked.stderr)")
        #expect(Self.listing(shm.file("bundle/rootfs/data")) == Self.listing(root.file("t")))
        #expect((try? String(contentsOfFile: shm.file("bundle/rootfs/more/été.txt"), encoding: .utf8)) == "summer\n")
    }

    /// A path of more than 4 KiB: Kiln opens it in pieces; GNU tar lists it back byte for byte (extracting
    /// it hits PATH_MAX in tar and umoci themselves).
    @Test func pathsLongerThanPathMaxAreArchived() throws {
        let root = try Self.tree()
        var deep = root.file("t/deep")
        let component = String(repeating: "d", count: 250)
        try FileManager.default.createDirectory(atPath: deep, withIntermediateDirectories: true)
        // mkdir(2) refuses a path over PATH_MAX, so the shell builds the chain one directory at a time.
        let made = try run(pythonPath(), ["-c", "import os, sys\nos.chdir(sys.argv[1])\nfor _ in range(18):\n    os.mkdir(sys.argv[2]); os.chdir(sys.argv[2])\nopen('f', 'w').write('deep')", deep, component])
        #expect(made.status == 0, "\(made.stderr)")
        deep += "/" + Array(repeating: component, count: 18).joined(separator: "/") + "/f"
        #expect(deep.utf8.count > 4096)
        let out = try TemporaryDirectory("out")
        let built = try KilnBinary.build(["--base", "scratch", "--add", "\(root.file("t")):/data", "--output", "oci:\(out.file("img")):1"])
        let layer = out.file("img/blobs/sha256/" + (built.layers.last?.digest.dropFirst(7) ?? ""))
        let ours = try run("tar", ["--quoting-style=escape", "-tzf", layer])
        let reference = try run("tar", ["--quoting-style=escape", "--format=pax", "-C", root.file("t"), "-cf", out.file("ref.tar"), "."])
        #expect(reference.status == 0, "\(reference.stderr)")
        let theirs = try run("tar", ["--quoting-style=escape", "-tf", out.file("ref.tar")])
        let ourNames = Set(ours.stdout.split(separator: "\n").map { String($0.dropFirst("data/".count)).trimmingTrailingSlash }.filter { !$0.isEmpty })
        let theirNames = Set(theirs.stdout.split(separator: "\n").map { String($0.dropFirst("./".count)).trimmingTrailingSlash }.filter { !$0.isEmpty })
        #expect(ourNames == theirNames, "\(ourNames.symmetricDifference(theirNames))")
        #expect(ourNames.contains { $0.hasSuffix("/f") && $0.utf8.count > 4096 })
    }

    @Test func aNameThatIsNotUTF8IsRefusedInOneLine() throws {
        let root = try Self.tree()
        let made = try run("/bin/sh", ["-c", "printf x > \"$1\"/$(printf 'bad-\\377\\376.txt')", "sh", root.file("t")])
        #expect(made.status == 0, "\(made.stderr)")
        let out = try TemporaryDirectory("out")
        let result = try KilnBinary.run(["build", "--base", "scratch", "--add", "\(root.file("t")):/data", "--output", "oci:\(out.file("img")):1"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("'bad-\\xff\\xfe.txt' is not valid UTF-8"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: out.file("img")))
    }

    /// The same rule inside a wheel: a member name that is not UTF-8 (and not flagged as such) is refused
    /// in one line that names the wheel, and nothing is installed.
    @Test func aWheelMemberNameThatIsNotUTF8IsRefused() throws {
        let wheels = try TemporaryDirectory("bad-name-wheel")
        let script = """
        import sys, zipfile
        path = sys.argv[1] + '/badname-1.0-py3-none-any.whl'
        with zipfile.ZipFile(path, 'w') as wheel:
            wheel.writestr('badname/__init__.py', '')
            wheel.writestr('badname/bad-XX.txt', 'x')
            wheel.writestr('badname-1.0.dist-info/METADATA', 'Metadata-Version: 2.1\\nName: badname\\nVersion: 1.0\\n')
            wheel.writestr('badname-1.0.dist-info/WHEEL', 'Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')
            wheel.writestr('badname-1.0.dist-info/RECORD', '')
        data = open(path, 'rb').read().replace(b'bad-XX', b'bad-\\xff\\xfe')
        open(path, 'wb').write(data)
        """
        let made = try run(pythonPath(), ["-c", script, wheels.path])
        try #require(made.status == 0, "\(made.stderr)")
        let index = try PipIndex(directories: [wheels.path])
        let requirements = try wheels.write("requirements.txt", "badname\n")
        let out = try TemporaryDirectory("out")
        let result = try KilnBinary.run(["pip", "install", "-r", requirements, "--python", "3.11", "--glibc", "2.28",
                                         "--target", out.file("site"), "--index-url", index.url()],
                                        environment: ["KILN_CACHE_DIR": out.file("cache")])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("kiln: error: ") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("badname-1.0-py3-none-any.whl") && result.stderr.contains("not UTF-8"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.file("site")))
    }

    /// GNU tar lists every tricky name of a layer back byte for byte, as umoci unpacks them.
    @Test func gnuTarListsEveryName() throws {
        let root = try Self.tree()
        let out = try TemporaryDirectory("out")
        let built = try KilnBinary.build(["--base", "scratch", "--add", "\(root.file("t")):/data", "--output", "oci:\(out.file("img")):1"],
                                         environment: ["LC_ALL": "C", "LANG": "C"])
        let layer = out.file("img/blobs/sha256/" + (built.layers.last?.digest.dropFirst(7) ?? ""))
        let listed = try run("tar", ["--null", "--quoting-style=literal", "-tzf", layer], environment: ["LC_ALL": "C.UTF-8"])
        #expect(listed.status == 0, "\(listed.stderr)")
        // One name per line; the name with a newline in it comes out as two lines, so compare on the rest.
        let names = Set(listed.stdout.split(separator: "\n", omittingEmptySubsequences: true).map { String($0).trimmingTrailingSlash })
        for name in Self.names where !name.contains("\n") {
            #expect(names.contains("data/" + name), "\(Array(name.utf8))")
        }
        #expect(names.contains("data/dir with space/модель/weights.bin") && names.contains("data/link → données"))
    }
}

extension String {
    fileprivate var trimmingTrailingSlash: String { hasSuffix("/") ? String(dropLast()) : self }
}
