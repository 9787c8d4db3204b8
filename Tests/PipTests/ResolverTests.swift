import AsyncHTTPClient
import Crypto
import Foundation
@testable import Pip
import Testing
import TestSupport

/// The resolver and the installer on fixtures/pypi/make_wheels.py's small index: choices, markers,
/// extras, what conda installed, and every way resolution or installation must refuse.
@Suite(.serialized) struct ResolverTests {
    let cache: TemporaryDirectory
    let index: PipIndex
    let wheels: String
    let target: PythonTarget

    init() throws {
        cache = try TemporaryDirectory("pip-cache")
        wheels = try syntheticWheels()
        index = try PipIndex(directories: [wheels + "/good", wheels + "/evil"], options: ["--yank", "gamma-1.0-py3-none-any.whl"])
        target = PythonTarget(python: try PythonVersion("3.11.4"), glibc: (2, 28), machine: "x86_64")
    }

    func job(_ lines: [String], installed: [String: InstalledDistribution] = [:], target: PythonTarget? = nil) throws -> PipJob {
        let file = try RequirementsFile(text: (["--index-url \(index.url())"] + lines).joined(separator: "\n"), directory: cache.path)
        return PipJob(file: file, target: target ?? self.target, installed: installed, cacheDirectory: cache.url, http: HTTPClient.shared, netrcPath: nil)
    }

    func resolve(_ lines: [String], installed: [String: InstalledDistribution] = [:], target: PythonTarget? = nil) async throws -> [String] {
        try await job(lines, installed: installed, target: target).resolve().picks.map { "\($0.key)==\($0.candidate.version)" }
    }

    func failure(_ lines: [String], installed: [String: InstalledDistribution] = [:]) async -> String {
        do {
            _ = try await resolve(lines, installed: installed)
            return "(resolved)"
        } catch { return "\(error)" }
    }

    @Test func choicesFollowMarkersExtrasTagsAndRequiresPython() async throws {
        #expect(try await resolve(["alpha"]) == ["alpha==2.0", "beta==2.0"])
        #expect(try await resolve(["alpha", "beta<2"]) == ["alpha==1.0", "beta==1.0"], "backtracks from alpha 2.0")
        #expect(try await resolve(["tool[fancy]"]) == ["beta==2.0", "tool==1.0"])
        #expect(try await resolve(["tool"]) == ["tool==1.0"])
        #expect(try await resolve(["newpy"]) == ["newpy==0.9"], "1.0 needs Python 3.12")
        #expect(try await resolve(["newpy"], target: PythonTarget(python: try PythonVersion("3.12.1"), glibc: (2, 28), machine: "x86_64")) == ["newpy==1.0"])
        #expect(try await resolve(["native"]) == ["native==0.9"], "1.0 is manylinux_2_31, the target has glibc 2.28")
        #expect(try await resolve(["native"], target: PythonTarget(python: try PythonVersion("3.11.4"), glibc: (2, 35), machine: "x86_64")) == ["native==1.0"])
        #expect(try await resolve(["alpha; python_version < '3'"]) == [])
        #expect(try await resolve(["gamma==1.0"]) == ["beta==1.0", "gamma==1.0"], "a yanked file is usable when pinned exactly")
        #expect(try await resolve(["--find-links \(wheels)/good", "--no-index", "beta<2"]) == ["beta==1.0"])
        try cache.write("constraints.txt", "beta<2\ngamma==1.0\n")
        #expect(try await resolve(["-c constraints.txt", "alpha"]) == ["alpha==1.0"], "alpha 2.0 needs beta>=2, which the constraint rules out")
        #expect(try await resolve(["-c constraints.txt", "tool"]) == ["tool==1.0"], "a constraint installs nothing")
        let constrained = await failure(["-c constraints.txt", "alpha>=2"])
        #expect(constrained.contains("The constraints ask for beta<2"), "\(constrained)")
        let direct = "file://\(wheels)/good/beta-1.0-py3-none-any.whl"
        #expect(try await resolve(["alpha", direct]) == ["alpha==1.0", "beta==1.0"])
    }

    @Test func extraIndexesAreMergedAndTheBestVersionWins() async throws {
        let mirror = try TemporaryDirectory("mirror")
        for name in ["beta-1.0-py3-none-any.whl", "delta-1.0-py3-none-any.whl"] where FileManager.default.fileExists(atPath: wheels + "/good/" + name) {
            try FileManager.default.copyItem(atPath: wheels + "/good/" + name, toPath: mirror.file(name))
        }
        let small = try PipIndex(directories: [mirror.path])
        let file = try RequirementsFile(text: "--index-url \(small.url())\n--extra-index-url \(index.url())\nbeta\n", directory: cache.path)
        let job = PipJob(file: file, target: target, installed: [:], cacheDirectory: cache.url, http: HTTPClient.shared, netrcPath: nil)
        let picks = try await job.resolve().picks
        #expect(picks.map { "\($0.key)==\($0.candidate.version)" } == ["beta==2.0"], "2.0 is only on the extra index")
        guard case let .wheel(chosen) = picks[0].candidate.origin else { Issue.record("a wheel"); return }
        #expect(chosen.url.hasPrefix(index.url().replacingOccurrences(of: "/simple", with: "")))
        let pinned = try RequirementsFile(text: "--index-url \(small.url())\n--extra-index-url \(index.url())\nbeta==1.0\n", directory: cache.path)
        let same = try await PipJob(file: pinned, target: target, installed: [:], cacheDirectory: cache.url, http: HTTPClient.shared, netrcPath: nil).resolve()
        guard case let .wheel(first) = same.picks[0].candidate.origin else { Issue.record("a wheel"); return }
        #expect(first.url.hasPrefix(small.url().replacingOccurrences(of: "/simple", with: "")), "on equal versions the first index wins")
    }

    @Test func whatCondaInstalledIsKeptAndExplained() async throws {
        let sitePackages = try TemporaryDirectory("site-packages")
        try sitePackages.write("beta-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: beta\nVersion: 1.0\n")
        try sitePackages.write("beta-1.0.dist-info/INSTALLER", "conda\n")
        try sitePackages.write("legacy.egg-info/PKG-INFO", "Metadata-Version: 1.0\nName: legacy\nVersion: 0.5\n")
        try sitePackages.write("legacy.egg-info/requires.txt", "alpha\n[extra]\ngamma\n")
        let installed = InstalledDistribution.scan(sitePackages: sitePackages.path)
        #expect(installed["beta"]?.installer == "conda" && installed["legacy"]?.requiresDist.map(\.text) == ["alpha", "gamma; extra == \"extra\""])
        let picks = try await job(["beta", "tool[fancy]"], installed: installed).resolve().picks
        #expect(picks.map(\.key) == ["beta", "tool"])
        guard case .installed = picks[0].candidate.origin else { Issue.record("beta should stay conda's"); return }
        let message = await failure(["alpha>=2"], installed: installed)
        #expect(message.contains("alpha 2.0 depends on beta>=2, but conda installed beta 1.0, which kiln keeps"), "\(message)")
    }

    @Test func conflictsAndUnusableRequirementsExplainThemselves() async throws {
        let conflict = await failure(["alpha>=2", "gamma==1.0"])
        #expect(conflict == "the pip requirements cannot be resolved: gamma 1.0 depends on beta<2. alpha 2.0 depends on beta>=2. So alpha 2.0 and gamma 1.0 are incompatible. The requirements ask for alpha>=2. So gamma 1.0 cannot be used with the requirements. The requirements ask for gamma==1.0. So the requirements cannot be met.", "\(conflict)")
        let sdist = await failure(["onlysdist"])
        #expect(sdist.contains("onlysdist 1.0 has only a source distribution (onlysdist-1.0.tar.gz), and builds are off (--no-build)"), "\(sdist)")
        let python = await failure(["newpy>=1"])
        #expect(python.contains("newpy 1.0 requires Python >=3.12 (the environment has 3.11.4)"), "\(python)")
        let missing = await failure(["no-such-thing"])
        #expect(missing.contains("no index or --find-links source has no-such-thing"))
        let none = await failure(["beta>=3"])
        #expect(none.contains("The requirements ask for beta>=3, but no version of beta matches (there are 2.0, 1.0)"), "\(none)")
        let yanked = await failure(["gamma"])
        #expect(yanked.contains("gamma 1.0 is yanked"), "\(yanked)")
        let hashes = await failure(["beta --hash=sha256:0000", "alpha"])
        #expect(hashes.contains("alpha has no --hash, but other lines do"), "\(hashes)")
        let wrongHash = await failure(["beta --hash=sha256:0000"])
        #expect(wrongHash.contains("has no file matching the --hash values"), "\(wrongHash)")
    }

    func installer(_ root: TemporaryDirectory, python: String = "/opt/env/bin/python") -> WheelInstaller {
        let scheme = InstallScheme(sitePackages: root.file("lib/python3.11/site-packages"), scripts: root.file("bin"),
                                   headers: root.file("include/python3.11"), data: root.path, python: python)
        return WheelInstaller(scheme: scheme, epoch: Date(timeIntervalSince1970: 0))
    }

    @Test func installsThePartsOfAWheelWhereTheyBelongWithAVerifiableRecord() async throws {
        let root = try TemporaryDirectory("env")
        let job = try job(["tool[fancy]"])
        let installed = try await job.install(try await job.resolve(), installer: installer(root))
        #expect(installed.map(\.name) == ["beta", "tool"])
        let site = root.file("lib/python3.11/site-packages")
        let script = try String(contentsOfFile: root.file("bin/tool"), encoding: .utf8)
        #expect(script.hasPrefix("#!/opt/env/bin/python\n# -*- coding: utf-8 -*-\nimport sys\nfrom tool.cli import main\n"))
        #expect(try String(contentsOfFile: root.file("bin/runme"), encoding: .utf8) == "#!/opt/env/bin/python\nimport tool\nprint('runme')\n")
        #expect(FileManager.default.fileExists(atPath: root.file("include/python3.11/tool/tool.h")))
        #expect(FileManager.default.fileExists(atPath: root.file("share/tool/notes.txt")))
        #expect(try String(contentsOfFile: site + "/tool-1.0.dist-info/INSTALLER", encoding: .utf8) == "kiln\n")
        #expect(FileManager.default.fileExists(atPath: site + "/tool-1.0.dist-info/REQUESTED"))
        #expect(!FileManager.default.fileExists(atPath: site + "/beta-2.0.dist-info/REQUESTED"), "beta was not asked for")
        let mode = try FileManager.default.attributesOfItem(atPath: root.file("bin/tool-gui"))[.posixPermissions] as? Int
        #expect(mode == 0o755)
        #expect((try FileManager.default.attributesOfItem(atPath: site + "/tool/cli.py")[.modificationDate] as? Date) == Date(timeIntervalSince1970: 0))
        // Every RECORD line's hash and size match the file; the lines are sorted; RECORD lists itself.
        let record = try String(contentsOfFile: site + "/tool-1.0.dist-info/RECORD", encoding: .utf8)
        let lines = record.split(separator: "\n").map(String.init)
        #expect(lines == lines.sorted() && lines.contains("tool-1.0.dist-info/RECORD,,") && lines.contains { $0.hasPrefix("../../../bin/tool,") })
        for line in lines where !line.hasSuffix(",,") {
            let parts = line.split(separator: ",").map(String.init)
            let data = try Data(contentsOf: URL(fileURLWithPath: site + "/" + parts[0]).standardizedFileURL)
            #expect(parts[1] == "sha256=" + WheelInstaller.recordHash(SHA256.hash(data: data)) && Int(parts[2]) == data.count, "\(line)")
        }
        // A long interpreter path gets the /bin/sh trampoline.
        let long = try TemporaryDirectory("env-long")
        let longPython = "/opt/" + String(repeating: "very-long-directory-name/", count: 6) + "bin/python"
        _ = try await job.install(try await job.resolve(), installer: installer(long, python: longPython))
        #expect(try String(contentsOfFile: long.file("bin/tool"), encoding: .utf8).hasPrefix("#!/bin/sh\n'''exec' '\(longPython)' \"$0\" \"$@\"\n' '''\n"))
    }

    @Test func hostileWheelsAreRefused() async throws {
        for (name, message) in [("escape", "would be written outside its directory"), ("badcrc", "badcrc/__init__.py")] {
            let root = try TemporaryDirectory("env")
            let job = try job([name])
            await #expect { _ = try await job.install(try await job.resolve(), installer: installer(root)) } throws: { "\($0)".contains(message) }
            #expect(!FileManager.default.fileExists(atPath: root.file("escaped.txt")) && !FileManager.default.fileExists(atPath: root.path + "/../escaped.txt"))
        }
    }
}
