import Foundation
import Testing
import TestSupport

/// pip requirements installed into the base image's python: the build resolves on the first answers the probe of the
/// base gives, while it reads the rest, and installs again when the rest changes them.
@Suite(.serialized) struct BasePythonTests {
    /// A base whose first layer has python 3.11 and whose second replaces it with python 3.12: `newpy` 1.0 needs
    /// python >= 3.12, so the early answer (3.11) would pick 0.9. The image must hold what 3.12 gives, and only that.
    /// A tree under `work` at `root` with a glibc and the python `version` (an ELF-ish file holding its version string,
    /// and `/usr/bin/python3` linking to it), as the probe reads them.
    static func python(_ work: TemporaryDirectory, _ root: String, _ version: String, glibc: Bool = false) throws {
        let minor = version.split(separator: ".").prefix(2).joined(separator: ".")
        if glibc {
            _ = try work.write("\(root)/lib/x86_64-linux-gnu/libc.so.6", Data("\u{7f}ELF GNU C Library (Debian GLIBC 2.36-9) stable release version 2.36.\n\0".utf8))
        }
        _ = try work.write("\(root)/usr/bin/python\(minor)", Data(("\u{7f}ELF" + String(repeating: "\0\(version)\0", count: 50) + "\03.9\0").utf8), mode: 0o755)
        try FileManager.default.createSymbolicLink(atPath: work.file("\(root)/usr/bin/python3"), withDestinationPath: "python\(minor)")
    }

    /// `work/root` made a base image (`work/base`), and `kiln build` of `requirements` over it from the synthetic wheels
    /// into `work/image`.
    static func buildOverRoot(_ work: TemporaryDirectory, requirements: String) throws -> ProcessResult {
        _ = try KilnBinary.build(["--base", "scratch", "--add", "\(work.file("root")):/", "--output", "oci:\(work.file("base")):1"])
        let index = try PipIndex(directories: [try syntheticWheels() + "/good"])
        let file = try work.write("requirements.txt", requirements)
        return try KilnBinary.run(["build", "--base", "oci:\(work.file("base")):1", "--requirements", file, "--index-url", index.url(),
                                   "--output", "oci:\(work.file("image")):1"], environment: ["KILN_CACHE_DIR": work.file("cache")])
    }

    @Test func aLaterLayerThatChangesThePythonIsInstalledForAgain() throws {
        let work = try TemporaryDirectory("base-python-later")
        try Self.python(work, "one", "3.11.4", glibc: true)
        try Self.python(work, "two", "3.12.1")
        _ = try KilnBinary.build(["--base", "scratch", "--add", "\(work.file("one")):/", "--output", "oci:\(work.file("base1")):1"])
        _ = try KilnBinary.build(["--base", "oci:\(work.file("base1")):1", "--add", "\(work.file("two")):/", "--output", "oci:\(work.file("base2")):1"])

        let index = try PipIndex(directories: [try syntheticWheels() + "/good"])
        let requirements = try work.write("requirements.txt", "newpy\n")
        let built = try KilnBinary.run(["build", "--base", "oci:\(work.file("base2")):1", "--requirements", requirements, "--index-url", index.url(),
                                        "--output", "oci:\(work.file("image")):1"], environment: ["KILN_CACHE_DIR": work.file("cache")])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stderr.contains("python 3.11.4 at /usr/bin/python3, packages in /usr/lib/python3.11/site-packages, glibc 2.36 became "
                                      + "python 3.12.1 at /usr/bin/python3, packages in /usr/lib/python3.12/site-packages, glibc 2.36"), "\(built.stderr)")
        let files = try KilnBinary.run(["inspect", "oci:\(work.file("image")):1", "--files"])
        #expect(files.status == 0, "\(files.stderr)")
        #expect(files.stdout.contains("/usr/lib/python3.12/site-packages/newpy-1.0.dist-info/METADATA"), "\(files.stdout)")
        #expect(!files.stdout.contains("python3.11/site-packages") && !files.stdout.contains("newpy-0.9"), "nothing of the first install is left")

        // Built again with the probe cache: the same image, and no early answer to take back.
        let again = try KilnBinary.run(["build", "--base", "oci:\(work.file("base2")):1", "--requirements", requirements, "--index-url", index.url(),
                                        "--output", "oci:\(work.file("again")):1", "--json"], environment: ["KILN_CACHE_DIR": work.file("cache")])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!again.stderr.contains("installing again"))
        let first = try KilnBinary.run(["inspect", "oci:\(work.file("image")):1", "--json"]).stdout
        let second = try KilnBinary.run(["inspect", "oci:\(work.file("again")):1", "--json"]).stdout
        #expect(!first.isEmpty && first == second)
    }

    /// The early answer takes its glibc from ldd's version line, which comes before libc in a sorted layer. An ldd that
    /// disagrees with libc (here it says 2.17, which picks `native` 0.9, the newest wheel that glibc could load) is caught
    /// by the final answer: the build installs again for libc's 2.36, and the image holds `native` 1.0 (manylinux_2_31).
    @Test func anLddThatDisagreesWithLibcIsInstalledForAgain() throws {
        let work = try TemporaryDirectory("base-python-ldd")
        try Self.python(work, "root", "3.11.4", glibc: true)
        _ = try work.write("root/usr/bin/ldd", Data("#!/bin/bash\ncase $1 in\n  --version) echo 'ldd (GNU libc) 2.17'; exit 0 ;;\nesac\n".utf8), mode: 0o755)
        _ = try work.write("root/usr/lib/x86_64-linux-gnu/libc.so.6", Data("\u{7f}ELF GNU C Library (GNU libc) stable release version 2.36.\n\0".utf8))
        try FileManager.default.removeItem(atPath: work.file("root/lib"))
        let built = try Self.buildOverRoot(work, requirements: "native\n")
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stderr.contains("glibc 2.17 became python 3.11.4"), "\(built.stderr)")
        #expect(built.stderr.contains("base image glibc 2.36"), "\(built.stderr)")
        let files = try KilnBinary.run(["inspect", "oci:\(work.file("image")):1", "--files"])
        #expect(files.stdout.contains("/native-1.0.dist-info/METADATA") && !files.stdout.contains("native-0.9"), "\(files.stdout)")
    }

    /// The build's work directory sits beside its output. Under a directory whose name is not ASCII, the environment's
    /// files still land at their paths (they were cut by the root's byte count as if it were characters: `/sr/local/…`),
    /// and the image is the same as one written anywhere else.
    @Test func anOutputUnderANonASCIIDirectoryGivesTheSameImage() throws {
        let work = try TemporaryDirectory("base-python-names")
        try Self.python(work, "root", "3.11.4", glibc: true)
        _ = try KilnBinary.build(["--base", "scratch", "--add", "\(work.file("root")):/", "--output", "oci:\(work.file("base")):1"])
        let index = try PipIndex(directories: [try syntheticWheels() + "/good"])
        let requirements = try work.write("requirements.txt", "beta==1.0\n")
        var digests: [String] = []
        for directory in ["plain", "données 模型 é\u{301}"] {
            let output = work.file(directory + "/image")
            let built = try KilnBinary.build(["--base", "oci:\(work.file("base")):1", "--requirements", requirements, "--index-url", index.url(),
                                              "--output", "oci:\(output):1"], environment: ["KILN_CACHE_DIR": work.file("cache")])
            digests.append(built.manifestDigest)
            let files = try KilnBinary.run(["inspect", "oci:\(output):1", "--files"])
            #expect(files.stdout.contains(" /usr/lib/python3.11/site-packages/beta/__init__.py "), "\(directory): \(files.stdout)")
        }
        #expect(digests.count == 2 && digests[0] == digests[1])
    }

    /// A base with a python and no libc gives no early answer (the probe waits for a glibc to the end): the build goes
    /// on with the final one, as before, and installs pure wheels only.
    @Test func aBaseWithoutGlibcIsInstalledForOnTheFinalAnswer() throws {
        let work = try TemporaryDirectory("base-python-no-glibc")
        try Self.python(work, "root", "3.11.4")
        let built = try Self.buildOverRoot(work, requirements: "beta==1.0\n")
        #expect(built.status == 0, "\(built.stderr)")
        #expect(!built.stderr.contains("base image glibc") && !built.stderr.contains("installing again"), "\(built.stderr)")
        let files = try KilnBinary.run(["inspect", "oci:\(work.file("image")):1", "--files"])
        #expect(files.stdout.contains(" /usr/lib/python3.11/site-packages/beta/__init__.py "), "\(files.stdout)")
    }
}
