import AsyncHTTPClient
import Foundation
@testable import Pip
import Testing
import TestSupport

/// Source distributions built through PEP 517 with a host python: the test sdists of
/// fixtures/pypi/make_wheels.py carry an in-tree backend (fixtures/pypi/sdist_backend.py), so every hook,
/// the build environment, the cache and each failure are exercised without the real index.
@Suite(.serialized) struct SourceBuildTests {
    let cache: TemporaryDirectory
    let index: PipIndex
    let wheels: String
    let target: PythonTarget

    init() throws {
        cache = try TemporaryDirectory("pip-build-cache")
        wheels = try syntheticWheels()
        index = try PipIndex(directories: [wheels + "/good", wheels + "/evil"])
        target = PythonTarget(python: try PythonVersion("3.11.4"), glibc: (2, 28), machine: "x86_64")
    }

    /// Collects the job's log lines.
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [String] = []
        func add(_ line: String) { lock.withLock { stored.append(line) } }
        var all: [String] { lock.withLock { stored } }
    }

    func job(_ lines: [String], builds: SourceBuilds? = nil, noBuild: Bool = false, log: Lines = Lines()) throws -> PipJob {
        let file = try RequirementsFile(text: (["--index-url \(index.url())"] + lines).joined(separator: "\n"), directory: cache.path)
        let builds = noBuild ? nil : builds ?? SourceBuilds.host(timeout: .seconds(120), target: target.python)
        return PipJob(file: file, target: target, installed: [:], cacheDirectory: cache.url, http: HTTPClient.shared, netrcPath: nil,
                      builds: builds, log: { log.add($0) })
    }

    func install(_ job: PipJob) async throws -> (TemporaryDirectory, [InstalledWheel]) {
        let out = try TemporaryDirectory("pip-build-target")
        let scheme = InstallScheme(sitePackages: out.path, scripts: out.path + "/bin", headers: out.path + "/include", data: out.path, python: "/usr/bin/python3")
        let installed = try await job.install(try await job.resolve(), installer: WheelInstaller(scheme: scheme))
        return (out, installed)
    }

    func failure(_ lines: [String], builds: SourceBuilds? = nil, directory: String = "good") async -> String {
        do {
            let (_, installed) = try await install(try job(lines, builds: builds))
            return "(installed \(installed.map(\.name)))"
        } catch { return "\(error)" }
    }

    @Test func sdistsAreBuiltThroughTheirBackendsWithTheirBuildRequirements() async throws {
        let log = Lines()
        let job = try job(["srcpkg", "staticpkg", "builddep"], log: log)
        let resolution = try await job.resolve()
        #expect(resolution.picks.map { "\($0.key)==\($0.candidate.version)" } == ["alpha==2.0", "beta==2.0", "builddep==1.0", "srcpkg==1.0", "staticpkg==1.0"])
        let built = resolution.picks.filter { if case .sdist = $0.candidate.origin { return true } else { return false } }.map(\.key)
        #expect(built == ["builddep", "srcpkg", "staticpkg"])
        // PEP 643: staticpkg's PKG-INFO is static, so resolving it ran nothing; srcpkg's (1.2) is not.
        #expect(log.all.contains("staticpkg-1.0.tar.gz: static metadata from PKG-INFO (PEP 643)"))
        #expect(!log.all.contains { $0.contains("srcpkg-1.0.tar.gz: static metadata") })
        let out = try TemporaryDirectory("pip-build-target")
        let scheme = InstallScheme(sitePackages: out.path, scripts: out.path + "/bin", headers: out.path + "/include", data: out.path, python: "/usr/bin/python3")
        let installed = try await job.install(resolution, installer: WheelInstaller(scheme: scheme))
        #expect(installed.map(\.name).sorted() == ["alpha", "beta", "builddep", "srcpkg", "staticpkg"])
        // builddep's backend imported beta ([build-system] requires) and alpha (get_requires_for_build_wheel) from
        // the build environment, which the resolver filled: beta>=2 gave 2.0, alpha<2 gave 1.0.
        let imports = try String(contentsOfFile: out.path + "/builddep/_built_with.py", encoding: .utf8)
        #expect(imports.hasPrefix("IMPORTS = {'beta': '2.0', 'alpha': '1.0'}\nPYTHON = '/"), "\(imports)")
        #expect(FileManager.default.fileExists(atPath: out.path + "/srcpkg-1.0.dist-info/RECORD"))
        // A built wheel is locked as its sdist: the URL and the sdist's sha256.
        let locked = try await job.locked(resolution)
        let srcpkg = try #require(locked.first { $0.name == "srcpkg" })
        let sdistSHA256 = try IndexClient.sha256File(wheels + "/good/srcpkg-1.0.tar.gz")
        #expect(srcpkg.url.hasSuffix("/srcpkg-1.0.tar.gz") && srcpkg.sha256 == sdistSHA256)
        // Nothing of the builds is left in the workspace directory.
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: cache.path + "/pip/build-work")) ?? []).isEmpty)
    }

    @Test func aSecondInstallBuildsNothingAndTheLockRebuildsTheSameTree() async throws {
        let first = Lines()
        let job1 = try job(["srcpkg"], log: first)
        let resolution = try await job1.resolve()
        let locked = try await job1.locked(resolution)
        _ = try await install(job1)
        #expect(first.all.contains { $0.hasPrefix("built srcpkg-1.0-py3-none-any.whl from srcpkg-1.0.tar.gz with ") })
        let second = Lines()
        let (out, _) = try await install(try job(["srcpkg"], log: second))
        #expect(!second.all.contains { $0.hasPrefix("built ") }, "\(second.all)")
        #expect(second.all.contains("srcpkg-1.0.tar.gz: built wheel srcpkg-1.0-py3-none-any.whl from the cache"))
        // A cached wheel that no longer matches its recorded sha256 is built again.
        let builtDirectory = try #require(FileManager.default.enumerator(atPath: cache.path + "/pip/built")?.allObjects.compactMap { $0 as? String }
            .first { $0.hasSuffix("/srcpkg-1.0-py3-none-any.whl") })
        try Data("tampered".utf8).write(to: URL(fileURLWithPath: cache.path + "/pip/built/" + builtDirectory))
        let third = Lines()
        _ = try await install(try job(["srcpkg"], log: third))
        #expect(third.all.contains { $0.hasPrefix("srcpkg-1.0.tar.gz: the cached srcpkg-1.0-py3-none-any.whl does not match its recorded sha256") })
        #expect(third.all.contains { $0.hasPrefix("built srcpkg-1.0-py3-none-any.whl from srcpkg-1.0.tar.gz") })
        // From the lock: the sdist, checked against its sha256, and the cached wheel.
        let again = try TemporaryDirectory("pip-build-locked")
        let scheme = InstallScheme(sitePackages: again.path, scripts: again.path + "/bin", headers: again.path + "/include", data: again.path, python: "/usr/bin/python3")
        let fromLock = try await job(["srcpkg"]).install(locked: locked, requested: ["srcpkg"], installer: WheelInstaller(scheme: scheme))
        #expect(fromLock.map(\.name).sorted() == ["beta", "srcpkg"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: again.path + "/srcpkg/__init__.py")) == Data(contentsOf: URL(fileURLWithPath: out.path + "/srcpkg/__init__.py")))
        // A lock entry whose sha256 is not the sdist's is refused.
        var tampered = locked
        if let index = tampered.firstIndex(where: { $0.name == "srcpkg" }) { tampered[index].sha256 = String(repeating: "0", count: 64) }
        let other = try TemporaryDirectory("pip-build-tampered")
        let scheme2 = InstallScheme(sitePackages: other.path, scripts: other.path + "/bin", headers: other.path + "/include", data: other.path, python: "/usr/bin/python3")
        await #expect { try await job(["srcpkg"]).install(locked: tampered, requested: [], installer: WheelInstaller(scheme: scheme2)) } throws: { error in
            "\(error)".hasPrefix("srcpkg-1.0.tar.gz: sha256 \(locked.first { $0.name == "srcpkg" }?.sha256 ?? "")") && "\(error)".contains("does not match")
        }
        // With builds off, the lock's sdist is refused by name.
        await #expect { try await job(["srcpkg"], noBuild: true).install(locked: locked, requested: [], installer: WheelInstaller(scheme: scheme2)) } throws: { error in
            "\(error)" == "the lock names the source distribution srcpkg-1.0.tar.gz, and builds are off (--no-build)"
        }
    }

    @Test func failingBuildsStopWithOneLineThatSaysWhy() async throws {
        let quick = SourceBuilds.host(timeout: .seconds(3), target: target.python)
        let hung = await failure(["hangs"], builds: quick)
        #expect(hung.hasPrefix("hangs-1.0.tar.gz: build_wheel did not finish within 3 s; kiln stopped it (--build-timeout); build log: "), "\(hung)")
        let broken = await failure(["breaks"])
        #expect(broken.hasPrefix("breaks-1.0.tar.gz: build_wheel failed: RuntimeError: the test backend fails on purpose; build log: "), "\(broken)")
        let logPath = String(broken.split(separator: "build log: ").last ?? "")
        #expect(try String(contentsOfFile: logPath, encoding: .utf8).contains("Traceback"), "the kept log holds the traceback")
        let misnamed = await failure(["misnamed"])
        #expect(misnamed == "misnamed-1.0.tar.gz: the build made other-9.9-py3-none-any.whl, not misnamed 1.0", "\(misnamed)")
        let cycle = await failure(["selfbuild"])
        #expect(cycle.contains("building selfbuild needs selfbuild itself among its build requirements"), "\(cycle)")
        // Builds have no network where unshare allows it (root here and in CI).
        if await !HostPython.sandbox().isEmpty {
            let network = await failure(["downloads"])
            #expect(network.contains("the build tried to download, but builds have no network"), "\(network)")
        }
        for message in [hung, broken, misnamed, cycle] { #expect(!message.contains("\n")) }
    }

    /// A runner that must never run: hostile sdists are refused while unpacking.
    struct NeverRun: BuildRunner {
        var label: String { "nothing" }
        var interpreter: String { "/nonexistent" }
        func mountPoint(of workspace: String) -> String { workspace }
        func run(hook: String, workspace: String, environment: [String: String], log: String, timeout: Duration) async throws -> Subprocess.Outcome {
            Issue.record("a hostile sdist got as far as running \(hook)")
            return .exited(1)
        }
    }

    @Test func hostileSdistsAreRefusedBeforeAnythingRuns() async throws {
        let never = SourceBuilds { NeverRun() }
        let cases = [
            ("escaping", "escaping-1.0.tar.gz: member escaping-1.0/../../escaped.txt climbs out of the source tree with '..'; kiln refuses to build it"),
            ("linkout", "linkout-1.0.tar.gz: symlink linkout-1.0/etc -> /etc points outside the source tree; kiln refuses to build it"),
            ("climbs", "climbs-1.0.tar.gz: member climbs-1.0/inner/kilnbackend.py is written through the symlink inner; kiln refuses to build it"),
            ("bomb", "bomb-1.0.tar.gz: bomb-1.0/zeros.bin would expand it past 536870912 bytes (a decompression bomb); kiln refuses to build it"),
        ]
        for (name, message) in cases {
            let error = await failure([name], builds: never)
            #expect(error == message, "\(name): \(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: cache.path + "/escaped.txt") && !FileManager.default.fileExists(atPath: cache.path + "/pip/build-work/escaped.txt"))
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: cache.path + "/pip/build-work")) ?? []).isEmpty)
    }

    @Test func withBuildsOffTheResolverSaysWhatItSettledFor() async throws {
        let resolution = try await job(["oldsrc"], noBuild: true).resolve()
        #expect(resolution.picks.map { "\($0.key)==\($0.candidate.version)" } == ["oldsrc==1.0"])
        #expect(resolution.warnings == ["oldsrc settled on 1.0, not the newest 2.0, which would need onlysdist 1.0, which has only a source distribution (onlysdist-1.0.tar.gz), and builds are off (--no-build)"])
        // With builds on, a version with no wheel for the platform and no sdist still holds a package back.
        let native = try await job(["native"]).resolve()
        #expect(native.picks.map { "\($0.key)==\($0.candidate.version)" } == ["native==0.9"])
        #expect(native.warnings == ["native settled on 0.9, not the newest 1.0, which has no wheel for cp311 on manylinux_2_28_x86_64 (it has native-1.0-cp311-cp311-manylinux_2_31_x86_64.whl)"], "\(native.warnings)")
        // A downgrade the requirements themselves force is not warned about.
        #expect(try await job(["alpha", "beta<2"], noBuild: true).resolve().warnings.isEmpty)
        // --only-binary in the file turns builds off for the names it lists (or all).
        let only = try await job(["--only-binary oldsrc,onlysdist", "oldsrc"]).resolve()
        #expect(only.warnings == ["oldsrc settled on 1.0, not the newest 2.0, which would need onlysdist 1.0, which has only a source distribution (onlysdist-1.0.tar.gz), and builds are off (--only-binary onlysdist)"])
        await #expect { try await job(["--only-binary :all:", "srcpkg"]).resolve() } throws: { error in
            "\(error)".contains("srcpkg 1.0 has only a source distribution (srcpkg-1.0.tar.gz), and builds are off (--only-binary :all:)")
        }
    }

    @Test func aMissingBuildInterpreterIsNamedOnlyWhenABuildIsNeeded() async throws {
        let nowhere = SourceBuilds(timeout: .seconds(10)) { try await HostPython.find(for: try PythonVersion("3.11"), path: "/nonexistent") }
        // Wheels only: no interpreter is looked for.
        let (_, installed) = try await install(try job(["alpha==1.0"], builds: nowhere))
        #expect(installed.map(\.name) == ["alpha"])
        let missing = await failure(["srcpkg"], builds: nowhere)
        #expect(missing == "srcpkg-1.0.tar.gz: building a source distribution needs a Python 3.11 interpreter: looked for python3.11, python3 on PATH, found none; give one with --build-python, or turn builds off with --no-build", "\(missing)")
        let wrong = SourceBuilds(timeout: .seconds(10)) { try await HostPython.find(for: try PythonVersion("3.2"), explicit: "python3") }
        let mismatch = await failure(["srcpkg"], builds: wrong)
        #expect(mismatch.contains("needs a Python 3.2 interpreter: looked for --build-python python3; ") && mismatch.contains(" is Python 3."), "\(mismatch)")
    }

    @Test func buildSystemTablesAreReadAsPipReadsThem() throws {
        let full = try BuildSystem.parse("""
            [project]
            name = "x"  # a comment
            dependencies = ["a", 'b']

            [build-system]
            requires = [
                "hatchling>=1.8",  # trailing comma next
                'hatch-vcs',
            ]
            build-backend = "hatchling.build"
            backend-path = ["."]

            [tool.other]
            requires = ["not this"]
            """, what: "x")
        #expect(full == BuildSystem(requires: ["hatchling>=1.8", "hatch-vcs"], backend: "hatchling.build", backendPath: ["."]))
        #expect(try BuildSystem.parse("[tool.black]\nline-length = 100\n", what: "x") == BuildSystem(requires: ["setuptools>=40.8.0"], backend: "setuptools.build_meta:__legacy__"))
        #expect(try BuildSystem.parse("[build-system]\nrequires = [\"setuptools\", \"wheel\"]\n", what: "x") == BuildSystem(requires: ["setuptools", "wheel"], backend: "setuptools.build_meta:__legacy__"))
        #expect(try BuildSystem.parse("[build-system]\nrequires=[\"flit_core >=3.2,<4\"]\nbuild-backend=\"flit_core.buildapi\"", what: "x").requires == ["flit_core >=3.2,<4"])
        let refused: [(String, String)] = [
            ("[build-system]\nbuild-backend = \"x\"\n", "it has no 'requires'"),
            ("[build-system]\nrequires = \"setuptools\"\n", "requires is not an array of strings"),
            ("[build-system]\nrequires = [1, 2]\n", "requires is not an array of strings"),
            ("[build-system]\nrequires = [\"a\"\n", "an array is not closed"),
            ("[build-system]\nrequires = []\nbackend-path = [\"../up\"]\n", "backend-path '../up' leaves the project"),
            ("[build-system]\nrequires = [\"a]\n", "a string runs past the end of its line"),
        ]
        for (text, message) in refused {
            #expect { try BuildSystem.parse(text, what: "p.tar.gz") } throws: { error in
                "\(error)".hasPrefix("p.tar.gz: pyproject.toml [build-system]: ") && "\(error)".contains(message)
            }
        }
    }
}
