import Foundation
import Testing
import TestSupport

/// `kiln pip` against uv on the realistic ML set, and the pip: section inside `kiln build`.
@Suite(.serialized) struct PipCLITests {
    let cache: TemporaryDirectory

    init() throws { cache = try TemporaryDirectory("kiln-cache") }

    var environment: [String: String] { ["KILN_CACHE_DIR": cache.path] }

    func tree(_ root: String) throws -> [String: String] { try installedTree(root) }

    @Test(arguments: ["ml-requirements.txt", "ml-constrained.txt"])
    func resolvesAndInstallsWhatUvDoes(requirements: String) throws {
        let index = try PipIndex(directories: [try mlWheels()])
        let uv = try uvPath()
        let file = fixturePath("pypi/" + requirements)
        let out = try TemporaryDirectory("pip-diff")
        let uvEnvironment = ["UV_CACHE_DIR": out.file("uv-cache"), "UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1"]
        let platformFlags = ["--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_28", "--index-url", index.url()]
        let compiled = try run(uv, ["pip", "compile", "--quiet", "--no-header", "--no-annotate"] + platformFlags + [file], environment: uvEnvironment)
        #expect(compiled.status == 0, "\(compiled.stderr)")
        let resolved = try KilnBinary.run(["pip", "resolve", "-r", file, "--python", "3.11", "--glibc", "2.28", "--index-url", index.url()], environment: environment)
        #expect(resolved.status == 0, "\(resolved.stderr)")
        let theirs = compiled.stdout.split(separator: "\n").map(String.init)
        #expect(resolved.stdout.split(separator: "\n").map(String.init) == theirs)
        #expect(theirs.count > 10)

        let installedByUv = try run(uv, ["pip", "install", "--quiet", "--target", out.file("uv")] + platformFlags + ["-r", file], environment: uvEnvironment)
        #expect(installedByUv.status == 0, "\(installedByUv.stderr)")
        let installed = try KilnBinary.run(["pip", "install", "-r", file, "--python", "3.11", "--glibc", "2.28", "--index-url", index.url(),
                                      "--target", out.file("kiln")], environment: environment)
        #expect(installed.status == 0, "\(installed.stderr)")
        let mine = try tree(out.file("kiln")), uvs = try tree(out.file("uv"))
        #expect(mine.count == uvs.count && mine.count > 1000)
        let different = Set(mine.keys).union(uvs.keys).filter { mine[$0] != uvs[$0] }.sorted()
        #expect(different.isEmpty, "\(different.prefix(20))")
        // pip's rule, which conda's pip step follows: REQUESTED only for what the file names.
        #expect(FileManager.default.fileExists(atPath: out.file("kiln/joblib-1.6.0.dist-info/REQUESTED")))
        #expect(!FileManager.default.fileExists(atPath: out.file("kiln/blinker-1.9.0.dist-info/REQUESTED")))
    }

    @Test func aHashMismatchInstallsNothing() throws {
        let good = try syntheticWheels() + "/good"
        let index = try PipIndex(directories: [good], options: ["--corrupt", "beta-2.0-py3-none-any.whl"])
        let out = try TemporaryDirectory("pip-bad")
        let requirements = try out.write("requirements.txt", "tool\nalpha\n")
        let result = try KilnBinary.run(["pip", "install", "-r", requirements, "--index-url", index.url(), "--target", out.file("target"), "--verbose"],
                                  environment: environment)
        #expect(result.status != 0)
        #expect(result.stderr.contains("beta-2.0-py3-none-any.whl: sha256") && result.stderr.contains("does not match the index's"), "\(result.stderr)")
        let contents = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        #expect(contents == ["requirements.txt"], "no target and no staging directory: \(contents)")
    }

    @Test func secretsInIndexURLsStayOutOfLogsErrorsAndLocks() throws {
        let good = try syntheticWheels() + "/good"
        let index = try PipIndex(directories: [good], options: ["--auth", "ci-bot:pa55-Word-Secret"])
        let out = try TemporaryDirectory("pip-secret")
        let requirements = try out.write("requirements.txt", "--index-url \(index.url(credentials: "ci-bot:${PIP_TOKEN}"))\nalpha==1.0\n")
        let result = try KilnBinary.run(["pip", "install", "-r", requirements, "--target", out.file("t"), "--lock", out.file("lock.yml"), "--verbose"],
                                  environment: environment.merging(["PIP_TOKEN": "pa55-Word-Secret"]) { $1 })
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("GET http://<redacted>@127.0.0.1") && !result.stderr.contains("pa55-Word-Secret"))
        let lock = try String(contentsOfFile: out.file("lock.yml"), encoding: .utf8)
        #expect(lock.contains("manager: pip") && lock.contains("/files/alpha-1.0-py3-none-any.whl") && !lock.contains("pa55"))
        // The lock installs again with credentials from the same index URL; a wrong one fails without echoing it.
        let again = try KilnBinary.run(["pip", "install", "-r", requirements, "--target", out.file("t2"), "--locked", out.file("lock.yml")],
                                 environment: environment.merging(["PIP_TOKEN": "pa55-Word-Secret"]) { $1 })
        #expect(again.status == 0, "\(again.stderr)")
        let wrong = try KilnBinary.run(["pip", "install", "-r", requirements, "--target", out.file("t3")],
                                 environment: ["KILN_CACHE_DIR": out.file("c3"), "PIP_TOKEN": "guess-Secret-2"])
        #expect(wrong.status != 0 && wrong.stderr.contains("401") && !wrong.stderr.contains("guess-Secret-2"), "\(wrong.stderr)")
    }
}

/// The pip: section of an environment.yml inside `kiln build`: after conda, into the same prefix and layers,
/// locked with the conda packages, and rebuilt byte for byte from the lock.
@Suite(.serialized) struct PipBuildTests {
    let channels: String
    let cache: TemporaryDirectory

    init() throws {
        channels = try condaFixtureChannels()
        cache = try TemporaryDirectory("kiln-cache")
    }

    func environmentFile(_ directory: TemporaryDirectory, index: PipIndex, pip: [String]) throws -> String {
        try condaPipEnvironment(in: directory, channels: channels, index: index, pip: pip)
    }

    @Test func pipPackagesLandInTheEnvironmentAndTheLockRebuildsTheSameImage() throws {
        let index = try PipIndex(directories: [try syntheticWheels() + "/good"])
        let first = try TemporaryDirectory("checkout-a"), second = try TemporaryDirectory("checkout-b"), out = try TemporaryDirectory("out")
        for directory in [first, second] { _ = try environmentFile(directory, index: index, pip: ["hello", "tool[fancy]", "alpha==1.0"]) }
        let flags = ["--base", "scratch", "--conda-file", "environment.yml", "--virtual-package", "__glibc=2.28", "--env-prefix", "/opt/env"]
        let built = try KilnBinary.build(flags + ["--lock", out.file("env.lock"), "--output", "oci:\(out.file("a")):1"],
                                   environment: ["KILN_CACHE_DIR": cache.path], directory: first.path)
        let lock = try String(contentsOfFile: out.file("env.lock"), encoding: .utf8)
        #expect(lock.contains("- name: 'alpha'\n  version: '1.0'\n  manager: pip\n") && lock.contains("- name: 'beta'\n  version: '2.0'\n  manager: pip\n"))
        #expect(!lock.contains("name: 'hello'\n  version: '2.0'"), "conda's hello 1.0 stays")
        let explicit = try String(contentsOfFile: out.file("env.lock.explicit.txt"), encoding: .utf8)
        #expect(explicit.contains("# pip tool==1.0 @ \(index.url().dropLast(7))/files/tool-1.0-py3-none-any.whl#sha256="))
        for lockFile in [out.file("env.lock"), out.file("env.lock.explicit.txt")] {
            let again = try KilnBinary.build(flags + ["--locked", lockFile, "--output", "oci:\(out.file("b-\(UUID().uuidString)")):1"],
                                       environment: ["KILN_CACHE_DIR": out.file("fresh-\(UUID().uuidString)")], directory: second.path)
            #expect(again.manifestDigest == built.manifestDigest, "\(lockFile)")
        }
        let bundle = out.file("bundle")
        let unpacked = try run("umoci", ["raw", "unpack", "--rootless", "--image", out.file("a") + ":1", bundle])
        #expect(unpacked.status == 0, "\(unpacked.stderr)")
        let site = bundle + "/opt/env/lib/python3.11/site-packages"
        #expect(FileManager.default.fileExists(atPath: site + "/tool/cli.py") && FileManager.default.fileExists(atPath: site + "/alpha-1.0.dist-info/REQUESTED"))
        #expect(FileManager.default.fileExists(atPath: site + "/beta-2.0.dist-info/RECORD"))
        #expect(FileManager.default.fileExists(atPath: site + "/hello-1.0.dist-info/METADATA") && !FileManager.default.fileExists(atPath: site + "/hello-2.0.dist-info"))
        #expect(try String(contentsOfFile: bundle + "/opt/env/bin/tool", encoding: .utf8).hasPrefix("#!/opt/env/bin/python\n"))
        #expect(try String(contentsOfFile: bundle + "/opt/env/include/python3.11/tool/tool.h", encoding: .utf8) == "#define TOOL 1\n")
    }

    /// `kiln env install` runs the same environment stage as `kiln build`: the pip: lines are installed
    /// into the prefix, with entry points that name its python, never dropped.
    @Test func envInstallInstallsThePipSectionLikeTheBuild() throws {
        let index = try PipIndex(directories: [try syntheticWheels() + "/good"])
        let work = try TemporaryDirectory("env-install")
        let file = try environmentFile(work, index: index, pip: ["hello", "tool[fancy]", "alpha==1.0"])
        let result = try KilnBinary.run(["env", "install", file, "--prefix", work.file("env"), "--glibc", "2.28"],
                                        environment: ["KILN_CACHE_DIR": cache.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(" pip distributions into "), "\(result.stdout)")
        let site = work.file("env/lib/python3.11/site-packages")
        #expect(FileManager.default.fileExists(atPath: site + "/tool/cli.py") && FileManager.default.fileExists(atPath: site + "/alpha-1.0.dist-info/REQUESTED"))
        #expect(FileManager.default.fileExists(atPath: site + "/beta-2.0.dist-info/RECORD"))
        #expect(try String(contentsOfFile: work.file("env/bin/tool"), encoding: .utf8).hasPrefix("#!\(work.file("env"))/bin/python\n"))
        // A broken pip section fails the install and leaves no directory behind.
        let broken = try TemporaryDirectory("env-install-broken")
        let bad = try environmentFile(broken, index: index, pip: ["no-such-project-anywhere"])
        let failed = try KilnBinary.run(["env", "install", bad, "--prefix", broken.file("env"), "--glibc", "2.28"],
                                        environment: ["KILN_CACHE_DIR": cache.path])
        #expect(failed.status != 0 && failed.stderr.hasPrefix("kiln: error: ") && !FileManager.default.fileExists(atPath: broken.file("env")))
    }

    @Test func unusableOrCorruptPipPackagesFailTheBuildWithNoOutput() throws {
        let corrupt = try PipIndex(directories: [try syntheticWheels() + "/good"], options: ["--corrupt", "alpha-1.0-py3-none-any.whl"])
        let cases: [([String], String)] = [
            (["onlysdist"], "onlysdist-1.0.tar.gz: building it in the image needs a C library for /"),
            (["alpha>=2", "gamma"], "So the requirements cannot be met."),
            (["alpha==1.0"], "alpha-1.0-py3-none-any.whl: sha256"),
        ]
        for (pip, message) in cases {
            let work = try TemporaryDirectory("pip-fail"), out = try TemporaryDirectory("out")
            _ = try environmentFile(work, index: corrupt, pip: pip)
            let result = try KilnBinary.run(["build", "--base", "scratch", "--conda-file", "environment.yml", "--virtual-package", "__glibc=2.28",
                                       "--lock", out.file("env.lock"), "--output", "oci:\(out.file("image")):1"],
                                      environment: ["KILN_CACHE_DIR": cache.path], directory: work.path)
            #expect(result.status != 0 && result.stderr.contains(message), "\(pip): \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").filter { $0.hasPrefix("kiln: error:") }.count == 1)
            #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).isEmpty, "no image and no lock")
        }
    }
}
