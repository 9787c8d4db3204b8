import Foundation
import OCI
import Testing
import TestSupport

/// `kiln build` with a conda environment, end to end, on the fixture channel; umoci reads the result.
@Suite(.serialized) struct CondaBuildTests {
    let channels: String
    let cache: TemporaryDirectory

    init() throws {
        channels = try condaFixtureChannels()
        cache = try TemporaryDirectory("kiln-cache")
    }

    var environment: [String: String] { ["KILN_CACHE_DIR": cache.path] }

    func writeEnvironment(_ directory: TemporaryDirectory, _ dependencies: [String], extra: String = "") throws -> String {
        try directory.write("environment.yml", """
        name: scoring
        channels:
          - file://\(channels)/main
        dependencies:
        \(dependencies.map { "  - \($0)" }.joined(separator: "\n"))
        \(extra)
        """)
    }

    /// umoci unpacks the image; returns the rootfs path.
    func unpack(_ layout: String, _ out: TemporaryDirectory) throws -> String {
        let bundle = out.file("bundle-\(UUID().uuidString)")
        let result = try run("umoci", ["raw", "unpack", "--rootless", "--image", layout, bundle])
        #expect(result.status == 0, "\(result.stderr)")
        return bundle
    }

    @Test func lockRoundTripFromAnotherCheckoutGivesTheSameDigests() throws {
        let first = try TemporaryDirectory("checkout-a")
        let second = try TemporaryDirectory("checkout-b")
        let out = try TemporaryDirectory("out")
        _ = try writeEnvironment(first, ["python 3.11.*", "hello", "toolkit", "bigdata"])
        _ = try writeEnvironment(second, ["python 3.11.*", "hello", "toolkit", "bigdata"])
        let built = try KilnBinary.build(["--base", "scratch", "--conda-file", "environment.yml", "--lock", out.file("env.lock"),
                                    "--output", "oci:\(out.file("a")):1"], environment: environment, directory: first.path)
        #expect(built.layers.count == 2, "bigdata (5 MiB) has a layer of its own")
        let lock = try String(contentsOfFile: out.file("env.lock"), encoding: .utf8)
        #expect(lock.hasPrefix("version: 1\n") && lock.contains("- name: 'toolkit'\n"))
        let explicit = try String(contentsOfFile: out.file("env.lock.explicit.txt"), encoding: .utf8)
        #expect(explicit.contains("@EXPLICIT\n") && explicit.contains("python-3.11.4-h1_0_cpython.conda#sha256:"))
        for lockFile in [out.file("env.lock"), out.file("env.lock.explicit.txt")] {
            let again = try KilnBinary.build(["--base", "scratch", "--conda-file", "environment.yml", "--locked", lockFile,
                                        "--output", "oci:\(out.file("b-\(UUID().uuidString)")):1"], environment: ["KILN_CACHE_DIR": out.file("fresh-cache")],
                                       directory: second.path)
            #expect(again.manifestDigest == built.manifestDigest, "\(lockFile)")
        }

        // What is in the image: the prefix, relocated files, entry points, conda's metadata.
        let inspect = try KilnBinary.run(["inspect", "oci:\(out.file("a")):1"])
        let prefix = try #require(inspect.stdout.components(separatedBy: "AZUREML_CONDA_ENVIRONMENT_PATH=").dropFirst().first?.prefix { $0 != "\"" })
        #expect(prefix.hasPrefix("/azureml-envs/azureml_") && prefix.count == "/azureml-envs/azureml_".count + 32)
        #expect(inspect.stdout.contains("PATH=\(prefix)/bin:/usr/local/sbin"))
        let root = try unpack(out.file("a") + ":1", out)
        let hello = try String(contentsOfFile: root + prefix + "/bin/hello", encoding: .utf8)
        #expect(hello.hasPrefix("#!\(prefix)/bin/python3.11\n") && hello.contains("from hello.cli import main"))
        #expect(try String(contentsOfFile: root + prefix + "/etc/toolkit/config.txt", encoding: .utf8) == "prefix=\(prefix)\ndata=\(prefix)/share/toolkit\n")
        #expect(FileManager.default.fileExists(atPath: root + prefix + "/lib/python3.11/site-packages/hello/cli.py"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + prefix + "/bin/python") == "python3.11")
        let metas = try FileManager.default.contentsOfDirectory(atPath: root + prefix + "/conda-meta").sorted()
        #expect(metas.contains("history") && metas.contains("python-3.11.4-h1_0_cpython.json") && metas.contains("bigdata-1.0-0.json"))
        let binary = try Data(contentsOf: URL(fileURLWithPath: root + prefix + "/lib/libtoolkit.so"))
        #expect(binary.range(of: Data("\(prefix)/share/toolkit\0".utf8)) != nil && binary.range(of: Data("placehold".utf8)) == nil)
    }

    @Test func glibcComesFromTheBaseImage() throws {
        let work = try TemporaryDirectory("glibc")
        let out = try TemporaryDirectory("out")
        _ = try writeEnvironment(work, ["needs-glibc"])
        func base(_ version: String) throws -> String {
            try work.write("base-\(version)/lib/x86_64-linux-gnu/libc.so.6",
                           Data("\u{7f}ELF...GNU C Library (Ubuntu GLIBC \(version)-0ubuntu3) stable release version \(version).\n\0rest".utf8))
            let layout = out.file("base-\(version)")
            _ = try KilnBinary.build(["--base", "scratch", "--add", "\(work.file("base-\(version)")):/", "--output", "oci:\(layout):1"])
            return "oci:\(layout):1"
        }
        let modern = try KilnBinary.run(["build", "--base", try base("2.35"), "--conda-file", work.file("environment.yml"),
                                   "--output", "oci:\(out.file("ok")):1"], environment: environment)
        #expect(modern.status == 0, "\(modern.stderr)")
        #expect(modern.stderr.contains("kiln: base image glibc 2.35"))
        let old = try KilnBinary.run(["build", "--base", try base("2.17"), "--conda-file", work.file("environment.yml"),
                                "--output", "oci:\(out.file("old")):1"], environment: environment)
        #expect(old.status != 0)
        #expect(old.stderr.contains("needs '__glibc >=2.28', but only __glibc 2.17 is available"), "\(old.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.file("old")))
        let scratch = try KilnBinary.run(["build", "--base", "scratch", "--conda-file", work.file("environment.yml"), "--output", "oci:\(out.file("s")):1"],
                                   environment: environment)
        #expect(scratch.stderr.contains("needs '__glibc >=2.28', but nothing provides it"), "\(scratch.stderr)")
        let overridden = try KilnBinary.run(["build", "--base", "scratch", "--conda-file", work.file("environment.yml"), "--virtual-package", "__glibc=2.31",
                                       "--output", "oci:\(out.file("o")):1"], environment: environment)
        #expect(overridden.status == 0, "\(overridden.stderr)")
    }

    /// An environment that needs glibc in `work`, and a base whose libc is 2.36 pushed to `registry` as base/debian:12.
    func glibcBase(in registry: TestRegistry, work: TemporaryDirectory) throws -> KilnBinary.BuildOutput {
        _ = try writeEnvironment(work, ["needs-glibc", "libzlib"])
        try work.write("root/lib/x86_64-linux-gnu/libc.so.6", Data("GNU C Library (Debian GLIBC 2.36-9) stable release version 2.36.\n\0".utf8))
        return try KilnBinary.build(["--base", "scratch", "--add", "\(work.file("root")):/", "--output", "\(registry.host)/base/debian:12"])
    }

    @Test func registryBaseGlibcIsReadButTheBaseIsStillMounted() throws {
        let registry = try TestRegistry()
        let work = try TemporaryDirectory("glibc-registry")
        let base = try glibcBase(in: registry, work: work)
        let build = try KilnBinary.run(["build", "--base", "\(registry.host)/base/debian:12", "--conda-file", work.file("environment.yml"),
                                  "--output", "\(registry.host)/ml/env-app:1"], environment: environment)
        #expect(build.status == 0, "\(build.stderr)")
        #expect(build.stderr.contains("kiln: base image glibc 2.36"))
        #expect(build.stdout.contains("(uploaded 2, mounted 1, present 0)"), "config and environment uploaded, base mounted: \(build.stdout)")
        let pushes = registry.requests().filter { $0.method == "PATCH" && $0.path.contains("/ml/env-app/") }
        #expect(pushes.count == 4, "the config and the environment layer, then the SBOM's empty config and document")
        let layer = try #require(base.layers.first?.digest)
        let baseBlobReads = { registry.requests().filter { $0.method == "GET" && $0.path.hasSuffix("/base/debian/blobs/\(layer)") }.count }
        #expect(baseBlobReads() == 1, "the base's layer, read once for its glibc")

        // Again, with the same cache: the probe cache answers by the layer's digest, and the base is not downloaded.
        let again = try KilnBinary.run(["build", "--base", "\(registry.host)/base/debian:12", "--conda-file", work.file("environment.yml"),
                                        "--output", "\(registry.host)/ml/env-app:2"], environment: environment)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("kiln: base image glibc 2.36"))
        #expect(baseBlobReads() == 1, "no second download of the base's layer")
    }

    /// Into an OCI layout or a docker-archive, a registry base's layer is read once: the download the probe made is
    /// what the output gets, not a second one at the end (a CUDA base is gigabytes).
    @Test func aRegistryBaseIntoALayoutOrArchiveIsDownloadedOnce() throws {
        let registry = try TestRegistry()
        let work = try TemporaryDirectory("glibc-registry-local")
        let base = try glibcBase(in: registry, work: work)
        let layer = try #require(base.layers.first?.digest)
        let baseBlobReads = { registry.requests().filter { $0.method == "GET" && $0.path.hasSuffix("/base/debian/blobs/\(layer)") }.count }
        for (number, output) in ["oci:\(work.file("out/layout")):1", "docker-archive:\(work.file("out/image.tar")):app:1"].enumerated() {
            let before = baseBlobReads()
            let build = try KilnBinary.run(["build", "--base", "\(registry.host)/base/debian:12", "--conda-file", work.file("environment.yml"),
                                            "--output", output], environment: ["KILN_CACHE_DIR": work.file("cache-\(number)")])
            #expect(build.status == 0, "\(build.stderr)")
            #expect(build.stderr.contains("kiln: base image glibc 2.36"))
            #expect(baseBlobReads() == before + 1, "\(output): the base's layer, read once")
        }
        let files = try KilnBinary.run(["inspect", "oci:\(work.file("out/layout")):1", "--files"])
        #expect(files.stdout.contains("/lib/x86_64-linux-gnu/libc.so.6"), "\(files.stdout)")
        let copied = try Data(contentsOf: URL(fileURLWithPath: work.file("out/layout/blobs/sha256/\(layer.dropFirst("sha256:".count))")))
        #expect(Int64(copied.count) == base.layers.first?.size, "the layout holds the whole base layer")
    }

    @Test func inferenceConfigCondaFileAndBadEnvironments() throws {
        let fixture = try Fixture()
        _ = try writeEnvironment(fixture.root, ["python 3.10.*", "hello"])
        try fixture.root.write("inferenceconfig.json", #"{"entryScript": "score.py", "sourceDirectory": "code", "condaFile": "environment.yml"}"#)
        let out = try TemporaryDirectory("out")
        let built = try KilnBinary.build(["--base", "scratch", "--no-server", "--inference-config", fixture.root.file("inferenceconfig.json"),
                                    "--output", "oci:\(out.file("ic")):1"], environment: environment)
        #expect(built.layers.count == 2, "environment, then code")
        let files = try KilnBinary.run(["inspect", "oci:\(out.file("ic")):1", "--files"])
        #expect(files.stdout.contains("/lib/python3.10/site-packages/hello/cli.py"))

        // A record filed under one package by its file name that names another: the index is broken.
        _ = try out.write("renamed/linux-64/repodata.json", #"{"info": {"subdir": "linux-64"}, "packages": {"renamed-1.0-0.tar.bz2": {"name": "other", "version": "1.0", "build": "0"}}}"#)
        _ = try out.write("renamed/noarch/repodata.json", #"{"info": {"subdir": "noarch"}, "packages": {}}"#)
        let cases: [(String, String)] = [
            ("channels: [file://\(out.file("renamed"))]\ndependencies: [renamed]\n", "record 'renamed-1.0-0.tar.bz2' is named 'other', not 'renamed' as its file name says"),
            ("channels: [file://\(channels)/main]\ndependencies:\n  - bigdata\n  - pip:\n    - flask==3.0\n", "need python among the conda dependencies"),
            ("channels: [file://\(channels)/main]\ndependencies:\n  - python 3.11.*\n  - pip:\n    - -e .\n", "pip::1: editable installs (-e) link a working tree, which an image cannot"),
            ("channels: [file://\(channels)/main]\ndependencies: [pinned-a, pinned-b]\n", "'pinned-a' needs libzlib 1.2.13; 'pinned-b' needs libzlib 1.3.1"),
            ("channels: [file://\(channels)/hostile]\ndependencies: [evil-traversal]\n", "climbs out of the package with '..'"),
            ("channels: [file://\(channels)/hostile]\ndependencies: [evil-hash]\n", "does not match the expected"),
            ("dependencies: [\"python >=\"]\n", "invalid match spec 'python >='"),
            ("dependencies: {python: 3}\n", "dependencies must be a list"),
            ("- python\n", "expected a mapping with channels and dependencies"),
            ("dependencies:\n  - [nested\n", "is not valid YAML"),
            ("channels: [file:///nonexistent/channel]\ndependencies: [python]\n", "file:///nonexistent/channel has no repodata.json"),
        ]
        for (text, message) in cases {
            let file = try out.write("bad-\(UUID().uuidString).yml", text)
            let result = try KilnBinary.run(["build", "--base", "scratch", "--conda-file", file, "--output", "oci:\(out.file("bad")):1"], environment: environment)
            #expect(result.status != 0)
            #expect(result.stderr.contains(message), "\(text): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").filter { $0.hasPrefix("kiln: error:") }.count == 1)
            #expect(!FileManager.default.fileExists(atPath: out.file("bad")))
        }
        let stray = try KilnBinary.run(["build", "--base", "scratch", "--lock", out.file("x.lock"), "--output", "oci:\(out.file("bad")):1"])
        #expect(stray.stderr.contains("need an environment (--conda-file, --locked or --requirements)"))
    }
}
