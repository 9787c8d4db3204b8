import Foundation
import Testing
import TestSupport

/// sdists built as pip and uv build them (PEP 517), where the user's image will run them: inside
/// `kiln build` in the image under runc with the environment's python, in `kiln pip` with a host python.
/// The real case is AzureML's `azureml-defaults` line, whose tree needs the fusepy sdist; the small cases
/// use the in-tree test backend of fixtures/pypi/sdist_backend.py.
@Suite(.serialized) struct SdistBuildTests {
    let cache: TemporaryDirectory

    init() throws { cache = try TemporaryDirectory("kiln-sdist-cache") }

    var environment: [String: String] { ["KILN_CACHE_DIR": cache.path] }

    /// `python -c CODE` inside the image's filesystem, under runc; its stdout.
    func runInImage(_ layout: String, tag: String, python: String, code: String) throws -> String {
        let work = try TemporaryDirectory("sdist-run")
        let unpack = try run("umoci", ["unpack", "--image", "\(layout):\(tag)", work.file("bundle")])
        #expect(unpack.status == 0, "\(unpack.stderr)")
        let configPath = work.file("bundle/config.json")
        var spec = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as? [String: Any])
        var process = try #require(spec["process"] as? [String: Any])
        process["terminal"] = false
        process["args"] = [python, "-c", code]
        spec["process"] = process
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: configPath))
        let id = "kiln-sdist-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let result = try run("timeout", ["120", try which("runc"), "run", "--bundle", work.file("bundle"), id])
        _ = try? run(try which("runc"), ["delete", "--force", id])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout
    }

    func environmentFile(_ directory: TemporaryDirectory, channel: String, pip: [String]) throws -> String {
        try pythonPipEnvironment(in: directory, channel: channel, pip: pip)
    }

    @Test func condaEnvironmentSdistsAreBuiltInTheImageWithItsPython() throws {
        let (_, channel) = try debianPythonChannel()
        let index = try PipIndex(directories: [try syntheticWheels() + "/good", try azureMLSdistIndex() + "/files"])
        let work = try TemporaryDirectory("sdist-build")
        let file = try environmentFile(work, channel: channel, pip: ["srcpkg", "builddep"])
        let arguments = ["--base", "debian-python", "--conda-file", file, "--env-prefix", "/opt/env", "--index-url", index.url()]
        let first = try KilnBinary.run(["build"] + arguments + ["--lock", work.file("env.lock"), "--output", "oci:\(work.file("image")):1", "--json"],
                                       environment: environment)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("pip: building sdists in the image with /opt/env/bin/python, under runc"), "\(first.stderr)")
        // The wheels were built by the image's own python, and builddep's build found its build requirements.
        let answer = try runInImage(work.file("image"), tag: "1", python: "/opt/env/bin/python",
                                    code: "import srcpkg, builddep._built_with as b; print(b.IMPORTS, b.PYTHON)")
        #expect(answer == "{'beta': '2.0', 'alpha': '1.0'} /opt/env/bin/python\n", "\(answer)")
        // Nothing of the build is in the image: no build requirement that only the build needed (alpha), no workspace.
        let listing = try runInImage(work.file("image"), tag: "1", python: "/opt/env/bin/python",
                                     code: "import os; print(sorted(os.listdir('/opt/env/lib/python3.11/site-packages')), os.path.exists('/kiln-build'))")
        #expect(!listing.contains("'alpha'") && listing.contains("'srcpkg'") && listing.hasSuffix("False\n"), "\(listing)")
        // The lock names each sdist by URL and sha256.
        let lock = try String(contentsOfFile: work.file("env.lock"), encoding: .utf8)
        #expect(lock.contains("/files/srcpkg-1.0.tar.gz'") && lock.contains("/files/builddep-1.0.tar.gz'"), "\(lock)")
        // Again, and from the lock: the built wheels come from the cache (no sandbox at all), same digest.
        let firstDigest = try JSONDecoder().decode(KilnBinary.BuildOutput.self, from: Data(first.stdout.utf8)).manifestDigest
        for extra in [[String](), ["--locked", work.file("env.lock")]] {
            let again = try KilnBinary.run(["build"] + arguments + extra + ["--output", "oci:\(work.file("again")):1", "--json"], environment: environment)
            #expect(again.status == 0, "\(again.stderr)")
            #expect(!again.stderr.contains("building sdists in the image"), "\(extra): \(again.stderr)")
            #expect(try JSONDecoder().decode(KilnBinary.BuildOutput.self, from: Data(again.stdout.utf8)).manifestDigest == firstDigest, "\(extra)")
            try? FileManager.default.removeItem(atPath: work.file("again"))
        }
        // --no-build: one line that names the sdist, and no image.
        let refused = try KilnBinary.run(["build"] + arguments + ["--no-build", "--output", "oci:\(work.file("none")):1"], environment: environment)
        #expect(refused.status != 0 && !FileManager.default.fileExists(atPath: work.file("none")))
        #expect(refused.stderr.split(separator: "\n").last?.hasPrefix("kiln: error: the pip requirements cannot be resolved: ") == true, "\(refused.stderr)")
        #expect(refused.stderr.contains("srcpkg 1.0 has only a source distribution (srcpkg-1.0.tar.gz), and builds are off (--no-build)"))
    }

    @Test func overTheBasePythonTheBaseInterpreterBuildsAndFailuresSayWhy() throws {
        _ = try debianPythonChannel()
        let index = try PipIndex(directories: [try syntheticWheels() + "/good"])
        let work = try TemporaryDirectory("sdist-base")
        try work.write("requirements.txt", "srcpkg\n")
        let built = try KilnBinary.run(["build", "--base", "debian-python", "--requirements", work.file("requirements.txt"), "--index-url", index.url(),
                                        "--output", "oci:\(work.file("image")):1"], environment: environment)
        #expect(built.status == 0, "\(built.stderr)")
        let answer = try runInImage(work.file("image"), tag: "1", python: "/usr/bin/python3", code: "import srcpkg._built_with as b; print(b.PYTHON)")
        #expect(answer == "/usr/bin/python3\n", "\(answer)")
        // In the image the build has no network, and a hung build is stopped: one line each, no image.
        for (requirement, flags, message) in [("downloads", [String](), "the build tried to download, but builds have no network"),
                                              ("hangs", ["--build-timeout", "5"], "hangs-1.0.tar.gz: build_wheel did not finish within 5 s; kiln stopped it (--build-timeout)")] {
            try work.write("failing.txt", requirement + "\n")
            let failed = try KilnBinary.run(["build", "--base", "debian-python", "--requirements", work.file("failing.txt"), "--index-url", index.url(),
                                             "--output", "oci:\(work.file("failed")):1"] + flags, environment: environment)
            #expect(failed.status != 0 && failed.stderr.contains(message), "\(requirement): \(failed.stderr)")
            #expect(failed.stderr.split(separator: "\n").filter { $0.hasPrefix("kiln: error:") }.count == 1)
            #expect(!FileManager.default.fileExists(atPath: work.file("failed")))
        }
        // Flags that would have no effect are refused.
        for flags in [["--no-build", "--build-python", "python3"], ["--no-build", "--build-timeout", "5"]] {
            let refused = try KilnBinary.run(["pip", "resolve", "-r", work.file("requirements.txt"), "--index-url", index.url()] + flags, environment: environment)
            #expect(refused.status != 0 && refused.stderr.contains("has no effect with --no-build"), "\(flags): \(refused.stderr)")
        }
        // The flags need an environment to act on.
        let stray = try KilnBinary.run(["build", "--base", "scratch", "--no-build", "--output", "oci:\(work.file("x")):1"], environment: environment)
        #expect(stray.status != 0 && stray.stderr.contains("--no-build and --build-timeout need an environment"), "\(stray.stderr)")
    }

    /// AzureML's most common pip line on a local copy of its real tree: kiln resolves and installs what uv
    /// does, building fusepy from its sdist with a host python.
    @Test func azureMLDefaultsResolvesAndInstallsAsUvDoes() throws {
        let filled = try azureMLSdistIndex()
        let index = try PipIndex(directories: [filled + "/files"])
        let file = fixturePath("pypi/azureml-requirements.txt")
        let out = try TemporaryDirectory("sdist-uv")
        let uvEnvironment = ["UV_CACHE_DIR": out.file("uv-cache"), "UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1", "PIP_FIND_LINKS": ""]
        let platformFlags = ["--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_28", "--index-url", index.url()]
        let compiled = try run(try uvPath(), ["pip", "compile", "--quiet", "--no-header", "--no-annotate"] + platformFlags + [file], environment: uvEnvironment)
        #expect(compiled.status == 0, "\(compiled.stderr)")
        let resolved = try KilnBinary.run(["pip", "resolve", "-r", file, "--python", "3.11", "--glibc", "2.28", "--index-url", index.url()], environment: environment)
        #expect(resolved.status == 0, "\(resolved.stderr)")
        let theirs = compiled.stdout.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
        let ours = resolved.stdout.split(separator: "\n").map(String.init)
        #expect(ours == theirs, "kiln: \(Set(ours).subtracting(theirs)) uv: \(Set(theirs).subtracting(ours))")
        #expect(ours.contains("azureml-defaults==1.62.0") && ours.contains("fusepy==3.0.1") && ours.count >= 100, "\(ours.count)")
        #expect(!resolved.stderr.contains("warning"), "\(resolved.stderr)")
        // The same tree as uv's, file by file.
        let uvInstall = try run(try uvPath(), ["pip", "install", "--quiet", "--target", out.file("uv")] + platformFlags + ["-r", file], environment: uvEnvironment)
        #expect(uvInstall.status == 0, "\(uvInstall.stderr)")
        let installed = try KilnBinary.run(["pip", "install", "-r", file, "--python", "3.11", "--glibc", "2.28", "--index-url", index.url(),
                                            "--target", out.file("kiln")], environment: environment)
        // A failed install stops the test here, so the one line that says why is not buried under the tree diff.
        try #require(installed.status == 0, "kiln pip install: \(installed.stderr)")
        // uv writes an empty uv_build.json into the dist-info of a wheel it built itself (README: differences).
        let (a, b) = (try installedTree(out.file("kiln")), try installedTree(out.file("uv")).filter { !$0.key.hasSuffix(".dist-info/uv_build.json") })
        let differing = Set(a.keys).union(b.keys).filter { a[$0] != b[$0] }.sorted()
        #expect(differing.isEmpty, "\(differing.count) differ: \(differing.prefix(5).map { "\($0): kiln \(a[$0]?.prefix(80) ?? "-") uv \(b[$0]?.prefix(80) ?? "-")" })")
        #expect(a["bin/pip3.11"] != nil, "pip's wheel gets pip3.11, as pip and uv write it")
        #expect(a["fuse.py"] != nil && a["fusepy-3.0.1.dist-info/RECORD"] != nil)
        // --no-build: this index has only the tree's own versions, so there is nothing older to settle for; one
        // line names fusepy and the chain that needs it.
        let noBuild = try KilnBinary.run(["pip", "resolve", "-r", file, "--python", "3.11", "--glibc", "2.28", "--index-url", index.url(), "--no-build"],
                                         environment: environment)
        #expect(noBuild.status != 0 && noBuild.stderr.split(separator: "\n").count == 1, "\(noBuild.stderr)")
        #expect(noBuild.stderr.hasPrefix("kiln: error: the pip requirements cannot be resolved: fusepy 3.0.1 has only a source distribution (fusepy-3.0.1.tar.gz), and builds are off (--no-build). azureml-dataset-runtime[fuse] 1.62.0.post1 depends on fusepy"), "\(noBuild.stderr)")
    }

    /// fusepy, built inside the image: with the conda environment's python, and with the base's own python.
    @Test(arguments: ["conda", "base python"])
    func fusepyIsBuiltInsideTheImageAndImports(mode: String) throws {
        let (_, channel) = try debianPythonChannel()
        let index = try PipIndex(directories: [try azureMLSdistIndex() + "/files"])
        let work = try TemporaryDirectory("sdist-fusepy")
        let environmentFlags: [String], python: String
        if mode == "conda" {
            environmentFlags = ["--conda-file", try environmentFile(work, channel: channel, pip: ["fusepy"]), "--env-prefix", "/opt/env"]
            python = "/opt/env/bin/python"
        } else {
            try work.write("requirements.txt", "fusepy\n")
            environmentFlags = ["--requirements", work.file("requirements.txt")]
            python = "/usr/bin/python3"
        }
        // fusepy loads libfuse at import; the image gets Debian's (the test machine's libfuse2).
        let libfuse = "/usr/lib/x86_64-linux-gnu/libfuse.so.2"
        let real = try FileManager.default.destinationOfSymbolicLink(atPath: libfuse)
        try work.mkdir("lib")
        try FileManager.default.copyItem(atPath: "/usr/lib/x86_64-linux-gnu/" + real, toPath: work.file("lib/libfuse.so.2"))
        let arguments = ["build", "--base", "debian-python"] + environmentFlags + ["--index-url", index.url(),
                         "--add", "\(work.file("lib/libfuse.so.2")):\(libfuse)"]
        let built = try KilnBinary.run(arguments + ["--output", "oci:\(work.file("image")):1", "--json"], environment: environment)
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stderr.contains("pip: building sdists in the image with \(python), under runc"), "\(built.stderr)")
        let answer = try runInImage(work.file("image"), tag: "1", python: python,
                                    code: "import os; os.environ['FUSE_LIBRARY_PATH'] = '\(libfuse)'\n"
                                        + "import fuse, importlib.metadata as m; print(fuse.FUSE.__name__, m.version('fusepy'))")
        #expect(answer == "FUSE 3.0.1\n", "\(answer)")
        // The second build builds nothing and gives the same image.
        let again = try KilnBinary.run(arguments + ["--output", "oci:\(work.file("again")):1", "--json"], environment: environment)
        #expect(again.status == 0 && !again.stderr.contains("building sdists in the image"), "\(again.stderr)")
        let digests = try [built, again].map { try JSONDecoder().decode(KilnBinary.BuildOutput.self, from: Data($0.stdout.utf8)).manifestDigest }
        #expect(digests[0] == digests[1])
    }

    /// The release binary refuses hostile sdists before running anything, with one line each.
    @Test func hostileSdistsAreRefusedByTheCommandLine() throws {
        let index = try PipIndex(directories: [try syntheticWheels() + "/evil"])
        let cases = [("escaping", "climbs out of the source tree with '..'"), ("linkout", "points outside the source tree"),
                     ("climbs", "is written through the symlink inner"), ("bomb", "(a decompression bomb)")]
        for (name, message) in cases {
            let work = try TemporaryDirectory("sdist-hostile")
            try work.write("requirements.txt", name + "\n")
            let result = try KilnBinary.run(["pip", "install", "-r", work.file("requirements.txt"), "--index-url", index.url(), "--target", work.file("site")],
                                            environment: environment)
            #expect(result.status != 0 && result.stderr.split(separator: "\n").count == 1, "\(name): \(result.stderr)")
            #expect(result.stderr.hasPrefix("kiln: error: \(name)-1.0.tar.gz: ") && result.stderr.contains(message) && result.stderr.contains("kiln refuses to build it"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: work.file("site")))
        }
    }

    /// `kiln env install` builds with the environment's own python, on this machine.
    @Test func envInstallBuildsWithTheEnvironmentsPython() throws {
        let (_, channel) = try debianPythonChannel()
        let index = try PipIndex(directories: [try syntheticWheels() + "/good", try azureMLSdistIndex() + "/files"])
        let work = try TemporaryDirectory("sdist-env")
        // An environment file's pip: section may name its index, as a requirements file does.
        let file = try environmentFile(work, channel: channel, pip: ["--index-url \(index.url())", "srcpkg"])
        let result = try KilnBinary.run(["env", "install", file, "--prefix", work.file("env"), "--glibc", "2.36"], environment: environment)
        #expect(result.status == 0, "\(result.stderr)")
        let builtWith = try String(contentsOfFile: work.file("env/lib/python3.11/site-packages/srcpkg/_built_with.py"), encoding: .utf8)
        #expect(builtWith.contains("PYTHON = '") && builtWith.contains("/bin/python") && !builtWith.contains("pyenv") && !builtWith.contains("'/usr/bin/python3"), "\(builtWith)")
    }
}
