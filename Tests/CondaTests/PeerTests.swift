import AsyncHTTPClient
@testable import Conda
import Foundation
import Testing
import TestSupport

/// The fixture channels, built once per test process by fixtures/conda/make_channel.py (py-rattler-build
/// and hand-written archives, indexed by py-rattler).
final class CondaFixture: @unchecked Sendable {
    static let shared = Result { try CondaFixture() }
    static let http = HTTPClient(eventLoopGroupProvider: .singleton)

    let directory: String
    var main: String { "file://\(directory)/main" }
    var hostile: String { "file://\(directory)/hostile" }

    init() throws {
        directory = try condaFixtureChannels()
    }

    static func get() throws -> CondaFixture { try shared.get() }

    static let virtual = ["__unix=0=0", "__linux=5.15=0", "__glibc=2.35=0", "__archspec=1=x86_64"]

    func request(_ specs: [String], channels: [String]? = nil, glibc: String = "2.35") throws -> CondaRequest {
        CondaRequest(channels: channels ?? [main], specs: try specs.map(MatchSpec.init(parsing:)), platform: "linux-64",
                     virtualPackages: try CondaRequest.virtualPackages(subdir: "linux-64", glibc: glibc, overrides: []))
    }

    func fetcher(_ cache: TemporaryDirectory) -> Fetcher { Fetcher(cacheDirectory: cache.url, http: Self.http) }

    /// py-rattler's answer for the same request: (name, version, build) sorted by name, or nil when it fails.
    func peer(_ mode: String, specs: [String], channels: [String]? = nil, cache: String, prefix: String? = nil,
              targetPrefix: String? = nil) throws -> [[String]]? {
        var arguments = [fixturePath("conda/rattler_peer.py"), mode, cache]
        for channel in channels ?? [main] { arguments += ["--channel", channel] }
        for spec in specs { arguments += ["--spec", spec] }
        for item in Self.virtual { arguments += ["--virtual", item] }
        if let prefix { arguments += ["--prefix", prefix] }
        if let targetPrefix { arguments += ["--target-prefix", targetPrefix] }
        let result = try run(try peerPython(), arguments)
        if result.status != 0 { print("py-rattler: \(result.stderr.suffix(600))") }
        guard result.status == 0, let data = result.stdout.data(using: .utf8),
              let list = try? JSONSerialization.jsonObject(with: data) as? [[String: String]] else { return nil }
        return list.map { [$0["name"] ?? "", $0["version"] ?? "", $0["build"] ?? ""] }
    }
}

@Suite(.serialized) struct CondaPeerTests {
    static let requests: [[String]] = [
        ["python 3.11.*", "hello", "toolkit", "clobber-b"],
        ["python", "toolkit"],
        ["hello", "python 3.10.*"],
        ["libzlib"],
        ["pip"],
        ["toolkit", "libzlib >=1.3"],
    ]

    @Test(arguments: requests) func kilnAndRattlerSolveTheSame(_ specs: [String]) async throws {
        let fixture = try CondaFixture.get()
        let cache = try TemporaryDirectory("cache")
        let ours = try await fixture.request(specs).solve(fetcher: fixture.fetcher(cache)).map { [$0.name, $0.version.description, $0.build] }
        let theirs = try fixture.peer("solve", specs: specs, cache: cache.path)
        #expect(ours == theirs, "\(specs)")
        #expect(!ours.isEmpty)
    }

    @Test func zstdRepodataAndCondaFormatPreferred() async throws {
        let fixture = try CondaFixture.get()
        let copy = try TemporaryDirectory("zst")
        for subdir in ["linux-64", "noarch"] {
            try copy.mkdir(subdir)
            let made = try run("zstd", ["-q", "-o", copy.file("\(subdir)/repodata.json.zst"), "\(fixture.directory)/main/\(subdir)/repodata.json"])
            #expect(made.status == 0, "\(made.stderr)")
        }
        let cache = try TemporaryDirectory("cache")
        let specs = ["python 3.11.*", "hello", "clobber-b"]
        let plain = try await fixture.request(specs).solve(fetcher: fixture.fetcher(cache))
        let zstd = try await fixture.request(specs, channels: ["file://\(copy.path)"]).solve(fetcher: fixture.fetcher(cache))
        #expect(plain.map(\.distName) == zstd.map(\.distName))
        #expect(plain.first { $0.name == "clobber-a" }?.fileName == "clobber-a-1.0-0.conda", "the .conda twin wins over .tar.bz2")
        try copy.write("linux-64/repodata.json.zst", "not zstd")
        let broken = await #expect(throws: CondaError.self) { try await fixture.request(specs, channels: ["file://\(copy.path)"]).solve(fetcher: fixture.fetcher(cache)) }
        #expect("\(broken.map { "\($0)" } ?? "")".contains("repodata.json.zst is not valid zstd"))
    }

    @Test func realCondaForgeRepodataSolvesLikeRattler() async throws {
        // mamba's numpy closure from conda-forge (34 real records), served as a file:// channel.
        let source = URL(fileURLWithPath: fixturePath("conda-real"))
            .appendingPathComponent("mamba-org+mamba/libmamba/tests/data/repodata/conda-forge-numpy-linux-64.json")
        let channel = try TemporaryDirectory("real")
        // py-rattler refuses `"constrains": null`, which this file has; kiln reads it either way.
        var repodata = try JSONSerialization.jsonObject(with: Data(contentsOf: source)) as? [String: Any] ?? [:]
        for key in ["packages", "packages.conda"] {
            repodata[key] = (repodata[key] as? [String: [String: Any]])?.mapValues { $0.filter { !($0.value is NSNull) } }
        }
        try channel.write("linux-64/repodata.json", try JSONSerialization.data(withJSONObject: repodata))
        try channel.write("linux-64-raw/repodata.json", try Data(contentsOf: source))
        try channel.write("noarch/repodata.json", #"{"info":{"subdir":"noarch"},"packages":{}}"#)
        let fixture = try CondaFixture.get()
        let cache = try TemporaryDirectory("cache")
        for specs in [["numpy"], ["numpy", "python 3.12.*", "setuptools"], ["python"], ["libopenblas", "libzlib"]] {
            let ours = try await fixture.request(specs, channels: ["file://\(channel.path)"]).solve(fetcher: fixture.fetcher(cache))
            let theirs = try fixture.peer("solve", specs: specs, channels: ["file://\(channel.path)"], cache: cache.path)
            #expect(ours.map { [$0.name, $0.version.description, $0.build] } == theirs, "\(specs)")
        }
        // The file as published, nulls included.
        let raw = try TemporaryDirectory("raw")
        try raw.write("linux-64/repodata.json", try Data(contentsOf: source))
        try raw.write("noarch/repodata.json", #"{"info":{"subdir":"noarch"},"packages":{}}"#)
        let numpy = try await fixture.request(["numpy"], channels: ["file://\(raw.path)"]).solve(fetcher: fixture.fetcher(cache))
        #expect(numpy.contains { $0.name == "numpy" && $0.version.description == "1.26.4" })
    }

    @Test func kilnAndRattlerInstallTheSameTree() async throws {
        let fixture = try CondaFixture.get()
        let work = try TemporaryDirectory("install")
        let specs = ["python 3.11.*", "hello", "toolkit", "clobber-b"]
        let ours = URL(fileURLWithPath: work.file("kiln"))
        let request = try fixture.request(specs)
        let fetcher = fixture.fetcher(try TemporaryDirectory("cache"))
        let records = try await request.solve(fetcher: fetcher)
        let report = try await Installer.install(records, requested: request.specs, prefix: ours.path, root: ours, fetcher: fetcher, epoch: 0)
        #expect(report.clobbers.map(\.0) == ["share/clobber/same.txt"])
        #expect(report.warnings == ["clobber-b-1.0-0 replaces share/clobber/same.txt from clobber-a-1.0-0",
                                    "toolkit-2.1-h0_0 has a post-link script, which Kiln does not run"])
        _ = try #require(try fixture.peer("install", specs: specs, cache: work.file("rattler-cache"), prefix: work.file("rattler"), targetPrefix: ours.path))

        // Every file, symlink and directory: same content, mode and link target. rattler also writes
        // CACHEDIR.TAG and keeps clobbered copies in __clobbers__/; conda-meta is compared below.
        let skip: (String) -> Bool = { $0 == "CACHEDIR.TAG" || $0.hasPrefix("__clobbers__") || $0.hasPrefix("conda-meta") }
        let mine = try Tree(work.file("kiln")).entries.filter { !skip($0.key) }
        let theirs = try Tree(work.file("rattler")).entries.filter { !skip($0.key) }
        #expect(mine.keys.sorted() == theirs.keys.sorted())
        for (path, entry) in mine { #expect(entry == theirs[path], "\(path)") }
        #expect(mine["bin/hello"]?.mode == 0o775)
        let config = String(decoding: mine["etc/toolkit/config.txt"]?.content ?? Data(), as: UTF8.self)
        #expect(config.contains("prefix=\(ours.path)\n"))

        // conda-meta: the same records, files and path types.
        for name in try FileManager.default.contentsOfDirectory(atPath: work.file("rattler/conda-meta")) where name.hasSuffix(".json") {
            let a = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: work.file("kiln/conda-meta/\(name)")))) as? [String: Any] ?? [:]
            let b = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: work.file("rattler/conda-meta/\(name)")))) as? [String: Any] ?? [:]
            for key in ["name", "version", "build", "sha256", "md5", "size", "url", "subdir"] {
                #expect("\(a[key] ?? "-")" == "\(b[key] ?? "-")", "\(name) \(key)")
            }
            let theirFiles = (b["files"] as? [String] ?? []).filter { !$0.hasPrefix("__clobbers__") }
            let ourFiles = a["files"] as? [String] ?? []
            #expect(Set(ourFiles) == Set(theirFiles) || name.hasPrefix("clobber-a"), "\(name) files")
            func types(_ record: [String: Any]) -> [String: String] {
                let paths = (record["paths_data"] as? [String: Any])?["paths"] as? [[String: Any]] ?? []
                return Dictionary(paths.compactMap { item in (item["_path"] as? String).map { ($0, item["path_type"] as? String ?? "") } }, uniquingKeysWith: { a, _ in a })
            }
            #expect(types(a).filter { !$0.key.hasPrefix("__clobbers__") } == types(b).filter { !$0.key.hasPrefix("__clobbers__") } || name.hasPrefix("clobber-a"), "\(name) paths_data")
        }
        let history = try String(contentsOfFile: work.file("kiln/conda-meta/history"), encoding: .utf8)
        #expect(history.hasPrefix("==> 1970-01-01 00:00:00 <==\n") && history.contains("::python-3.11.4-h1_0_cpython\n"))
    }

    @Test func unsatisfiableRequestsAreExplained() async throws {
        let fixture = try CondaFixture.get()
        let cache = try TemporaryDirectory("cache")
        let cases: [([String], String, String)] = [
            (["pinned-a", "pinned-b"], "2.35", "'pinned-a' needs libzlib 1.2.13; 'pinned-b' needs libzlib 1.3.1; no libzlib satisfies all of them"),
            (["needs-future", "python"], "2.35", "needs-future 1.0 (0) needs 'python >=3.13', but only python 3.10.12, 3.11.4 is available"),
            (["needs-glibc"], "2.17", "needs-glibc 1.0 (0) needs '__glibc >=2.28', but only __glibc 2.17 is available (a virtual package"),
            (["no-such-package"], "2.35", "nothing in the channels provides 'no-such-package'"),
            (["hello", "libzlib 1.3.*", "python"], "2.35", "'hello' needs libzlib 1.2.13; 'libzlib 1.3.*' needs libzlib 1.3.1"),
        ]
        for (specs, glibc, message) in cases {
            let error = await #expect(throws: CondaError.self) {
                try await fixture.request(specs, glibc: glibc).solve(fetcher: fixture.fetcher(cache))
            }
            let text = error.map { "\($0)" } ?? ""
            #expect(text.contains(message), "\(specs): \(text)")
            if glibc == "2.35" { #expect(try fixture.peer("solve", specs: specs, cache: cache.path) == nil, "py-rattler agrees \(specs) has no solution") }
        }
    }

    @Test(arguments: [("evil-traversal", "climbs out of the package with '..'"), ("evil-symlink", "points outside the package"),
                      ("evil-hash", "does not match the expected")])
    func hostilePackagesInstallNothing(_ name: String, _ message: String) async throws {
        let fixture = try CondaFixture.get()
        let work = try TemporaryDirectory("hostile")
        let request = try fixture.request([name], channels: [fixture.hostile])
        let fetcher = fixture.fetcher(try TemporaryDirectory("cache"))
        let records = try await request.solve(fetcher: fetcher)
        let root = URL(fileURLWithPath: work.file("prefix"))
        let error = await #expect(throws: CondaError.self) {
            try await Installer.install(records, requested: request.specs, prefix: root.path, root: root, fetcher: fetcher, epoch: 0)
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains(message))
        #expect(!FileManager.default.fileExists(atPath: root.path), "nothing installed")
        #expect(!FileManager.default.fileExists(atPath: work.file("escape.txt")))
    }

    @Test func binaryPlaceholderShorterThanThePrefixIsAnError() async throws {
        let fixture = try CondaFixture.get()
        let work = try TemporaryDirectory("long")
        let request = try fixture.request(["toolkit"])
        let fetcher = fixture.fetcher(try TemporaryDirectory("cache"))
        let records = try await request.solve(fetcher: fetcher)
        let long = "/" + String(repeating: "very-long-prefix/", count: 8)
        let root = URL(fileURLWithPath: work.file("prefix"))
        let error = await #expect(throws: CondaError.self) {
            try await Installer.install(records, requested: request.specs, prefix: long, root: root, fetcher: fetcher, epoch: 0)
        }
        #expect("\(error.map { "\($0)" } ?? "")".contains("lib/libtoolkit.so has a binary prefix placeholder of 94 bytes"))
        #expect(!FileManager.default.fileExists(atPath: root.path))
    }
}

/// A directory tree as path → (kind, mode, content or link target), for comparing installs.
struct Tree {
    struct Entry: Equatable {
        var kind: String
        var mode: Int
        var content: Data
    }

    var entries: [String: Entry] = [:]

    init(_ root: String) throws {
        let manager = FileManager.default
        guard let walker = manager.enumerator(atPath: root) else { return }
        while let relative = walker.nextObject() as? String {
            let path = root + "/" + relative
            let attributes = try manager.attributesOfItem(atPath: path)
            let mode = attributes[.posixPermissions] as? Int ?? 0
            switch attributes[.type] as? FileAttributeType {
            case .typeSymbolicLink?: entries[relative] = Entry(kind: "link", mode: 0, content: Data(try manager.destinationOfSymbolicLink(atPath: path).utf8))
            case .typeDirectory?: entries[relative] = Entry(kind: "dir", mode: 0, content: Data())
            default: entries[relative] = Entry(kind: "file", mode: mode, content: try Data(contentsOf: URL(fileURLWithPath: path)))
            }
        }
    }
}

/// A channel over HTTP: ETag revalidation, private-channel tokens kept out of every message and lock.
@Suite(.serialized) struct CondaHTTPTests {
    @Test func httpChannelWithETagCacheAndAToken() async throws {
        let fixture = try CondaFixture.get()
        let token = "tk-\(UUID().uuidString)"
        let root = fixture.directory
        let server = try TestHTTPServer { request in
            let path = request.uri.split(separator: "?").first.map(String.init) ?? ""
            guard path.hasPrefix("/t/\(token)/") else { return .init(status: 401) }
            let file = root + "/" + path.dropFirst("/t/\(token)/".count)
            guard let data = FileManager.default.contents(atPath: file) else { return .init(status: 404) }
            let etag = "\"\(data.count)-\(data.hashValue)\""
            if request.header("If-None-Match") == etag { return .init(status: 304, headers: [("ETag", etag)]) }
            return .init(status: 200, headers: [("ETag", etag)], body: data)
        }
        let channel = "http://\(server.host)/t/\(token)/main"
        let cache = try TemporaryDirectory("cache")
        let request = try fixture.request(["hello", "python 3.11.*"], channels: [channel])
        let first = try await request.solve(fetcher: fixture.fetcher(cache))
        let second = try await request.solve(fetcher: fixture.fetcher(cache))
        #expect(first == second && first.count == 4)
        let repodata = server.requests.filter { $0.uri.hasSuffix("/repodata.json") }
        #expect(repodata.filter { $0.header("If-None-Match") != nil }.count == 2, "the second solve revalidated both subdirs")

        let work = try TemporaryDirectory("install")
        let prefix = URL(fileURLWithPath: work.file("env"))
        try await Installer.install(first, requested: request.specs, prefix: prefix.path, root: prefix, fetcher: fixture.fetcher(cache), epoch: 0)
        #expect(FileManager.default.fileExists(atPath: work.file("env/bin/hello")))

        // Lock files carry no token; reading one back needs the channel URL, token included.
        let lock = LockFile.condaLock(first, platform: "linux-64", channels: [channel], specs: request.specs)
        let explicit = LockFile.explicit(first, platform: "linux-64")
        #expect(!lock.contains(token) && !explicit.contains(token) && explicit.contains("/t/<redacted>/main/"))
        let lockPath = try work.write("env.lock", lock)
        let restored = try LockFile.read(lockPath, platform: "linux-64", channels: [channel])
        #expect(restored.map(\.url).sorted() == first.map(\.url).sorted())
        let refused = #expect(throws: CondaError.self) { try LockFile.read(lockPath, platform: "linux-64") }
        #expect("\(refused.map { "\($0)" } ?? "")".contains("names a private channel"))

        // Errors name the channel without its token.
        let missing = try fixture.request(["hello"], channels: ["http://\(server.host)/t/\(token)/nope"])
        let error = await #expect(throws: CondaError.self) { try await missing.solve(fetcher: fixture.fetcher(cache)) }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("http://\(server.host)/t/<redacted>/nope") && !text.contains(token), "\(text)")
    }
}

/// scripts/synthetic_repodata.py's 100,032 records: kiln solves them, and py-rattler accepts the answer
/// (solving again with every record pinned gives back the same set).
@Suite struct CondaScaleTests {
    @Test func syntheticHundredThousandRecordsSolve() async throws {
        let channel = try TemporaryDirectory("synthetic")
        let script = URL(fileURLWithPath: fixturePath("conda")).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/synthetic_repodata.py").path
        let made = try run(pythonPath(), [script, channel.path])
        #expect(made.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "100032", "\(made.stderr)")
        let specs = try String(contentsOfFile: channel.file("request.txt"), encoding: .utf8).split(separator: "\n").map(String.init)
        let fixture = try CondaFixture.get()
        let cache = try TemporaryDirectory("cache")
        let solution = try await fixture.request(specs, channels: ["file://\(channel.path)"]).solve(fetcher: fixture.fetcher(cache))
        for spec in specs {
            let parsed = try MatchSpec(parsing: spec)
            #expect(solution.contains { parsed.matches($0) }, "\(spec)")
        }
        let pinned = solution.map { "\($0.name) ==\($0.version) \($0.build)" }
        let checked = try fixture.peer("solve", specs: pinned, channels: ["file://\(channel.path)"], cache: cache.path)
        #expect(checked == solution.map { [$0.name, $0.version.description, $0.build] }, "py-rattler accepts kiln's solution")
    }

    /// scripts/hard_repodata.py's conflicting ranges (the bench's instance and two other seeds): thousands
    /// of conflicts and backjumps through the shared requirement gates. Each answer meets the request,
    /// has no gate in it, and py-rattler accepts it pinned.
    @Test(arguments: ["20261201", "5", "6"]) func hardInstancesSolveToValidAnswers(_ seed: String) async throws {
        let channel = try TemporaryDirectory("hard")
        let script = URL(fileURLWithPath: fixturePath("conda")).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/hard_repodata.py").path
        let made = try run(pythonPath(), [script, channel.path, "--seed", seed])
        #expect(made.status == 0, "\(made.stderr)")
        let specs = try String(contentsOfFile: channel.file("request.txt"), encoding: .utf8).split(separator: "\n").map(String.init)
        let fixture = try CondaFixture.get()
        let cache = try TemporaryDirectory("cache")
        let solution = try await fixture.request(specs, channels: ["file://\(channel.path)"]).solve(fetcher: fixture.fetcher(cache))
        #expect(solution.allSatisfy { $0.name.hasPrefix("hard") }, "only records: no gate variable")
        #expect(Set(solution.map(\.name)).count == solution.count)
        for spec in specs {
            let parsed = try MatchSpec(parsing: spec)
            #expect(solution.contains { parsed.matches($0) }, "\(spec)")
        }
        let pinned = specs + solution.map { "\($0.name) ==\($0.version) \($0.build)" }
        let checked = try fixture.peer("solve", specs: pinned, channels: ["file://\(channel.path)"], cache: cache.path)
        #expect(checked == solution.map { [$0.name, $0.version.description, $0.build] }, "py-rattler accepts kiln's solution")
    }
}
