@testable import Conda
import Foundation
import HTTP
import Testing
import TestSupport

/// Conda's version order, on the vectors from conda's `VersionOrder` docstring.
struct VersionTests {
    @Test func condaDocstringOrder() throws {
        let chain = ["0.4", "0.4.0", "0.4.1.rc", "0.4.1.RC", "0.4.1", "0.5a1", "0.5b3", "0.5C1", "0.5", "0.9.6", "0.960923", "1.0",
                     "1.1dev1", "1.1_", "1.1a1", "1.1.0dev1", "1.1.dev1", "1.1.a1", "1.1.0rc1", "1.1.0", "1.1", "1.1.0post1",
                     "1.1.post1", "1.1post1", "1996.07.12", "1!0.4.1", "1!3.1.1.6", "2!0.4.1"]
        let equal: Set<[String]> = [["0.4", "0.4.0"], ["0.4.1.rc", "0.4.1.RC"], ["1.1.0dev1", "1.1.dev1"], ["1.1.0", "1.1"], ["1.1.0post1", "1.1.post1"]]
        for (a, b) in zip(chain, chain.dropFirst()) {
            let x = try CondaVersion(a), y = try CondaVersion(b)
            if equal.contains([a, b]) {
                #expect(x == y, "\(a) == \(b)")
                #expect(x.hashValue == y.hashValue)
            } else {
                #expect(x < y, "\(a) < \(b)")
                #expect(!(y < x))
            }
        }
    }

    @Test func openSSLUnderscoreAndLocalVersions() throws {
        #expect(try CondaVersion("1.0.1_") < CondaVersion("1.0.1a"))
        #expect(try CondaVersion("1.0.1_") < CondaVersion("1.0.1"))
        #expect(try CondaVersion("1.0+local.1") < CondaVersion("1.0+local.2"))
        #expect(try CondaVersion("1.0-1") == CondaVersion("1.0_1"))
        #expect(throws: CondaError.self) { try CondaVersion("") }
        #expect(throws: CondaError.self) { try CondaVersion("1.0$") }
        #expect(throws: CondaError.self) { try CondaVersion("a!1.0") }
    }

    @Test func specsMatch() throws {
        func matches(_ spec: String, _ version: String) throws -> Bool { try VersionSpec(parsing: spec).matches(CondaVersion(version)) }
        #expect(try matches("1.2.*", "1.2.3"))
        #expect(try !matches("1.2.*", "1.20"))
        #expect(try matches("1.2", "1.2.0"))
        #expect(try !matches("1.2", "1.2.1"))
        #expect(try matches(">=1.2,<2", "1.9"))
        #expect(try !matches(">=1.2,<2", "2.0"))
        #expect(try matches("<1|>=3,<4", "3.5"))
        #expect(try matches("(<1|>=3),!=3.5", "3.6"))
        #expect(try !matches("(<1|>=3),!=3.5", "3.5"))
        #expect(try matches("~=1.2.3", "1.2.9"))
        #expect(try !matches("~=1.2.3", "1.3"))
        #expect(try matches("!=1.2.*", "1.3"))
        #expect(try matches(">=3.8*", "3.9"))
        #expect(try matches("*", "0.0.1"))
        #expect(try matches("1.1a*", "1.1a1"))
        #expect(try matches("<3.9.0a0", "3.8.18"))
        #expect(try !matches("<3.9.0a0", "3.9.0rc1"))
        #expect(throws: CondaError.self) { try VersionSpec(parsing: "^1.2$") }
        #expect(throws: CondaError.self) { try VersionSpec(parsing: ">=") }
        #expect(throws: CondaError.self) { try VersionSpec(parsing: "(1.2") }
    }

    @Test func matchSpecForms() throws {
        let a = try MatchSpec(parsing: "python=3.9")
        #expect(try a.name == "python" && a.version == .startsWith(CondaVersion("3.9")) && a.build == nil)
        let b = try MatchSpec(parsing: "foo=1.0=py27_0")
        #expect(try b.version == .exact(CondaVersion("1.0")) && b.build?.description == "py27_0")
        let c = try MatchSpec(parsing: "python 3.8.* *_cpython")
        #expect(try c.version == .startsWith(CondaVersion("3.8")) && c.build?.matches("h1_0_cpython") == true)
        let d = try MatchSpec(parsing: "pytorch=*=cuda*")
        #expect(d.version == .any && d.build?.matches("cuda112py39") == true && d.build?.matches("cpu") == false)
        let e = try MatchSpec(parsing: "conda-forge::numpy[version='>=1.20,<2', build_number=3]")
        #expect(try e.channel == "conda-forge" && e.buildNumber == 3 && e.version?.matches(CondaVersion("1.26")) == true)
        let f = try MatchSpec(parsing: "conda-forge/linux-64::zlib >=1.2  # comment")
        #expect(f.channel == "conda-forge" && f.subdir == "linux-64" && f.name == "zlib")
        let g = try MatchSpec(parsing: "numpy>=1.20,<2")
        #expect(try g.name == "numpy" && g.version?.matches(CondaVersion("1.99")) == true)
        let h = try MatchSpec(parsing: "numpy==1.21")
        #expect(try h.version == .exact(CondaVersion("1.21")))
        #expect(throws: CondaError.self) { try MatchSpec(parsing: "") }
        #expect(throws: CondaError.self) { try MatchSpec(parsing: ">=1.0") }
        #expect(throws: CondaError.self) { try MatchSpec(parsing: "numpy[version]") }
        #expect(throws: CondaError.self) { try MatchSpec(parsing: "numpy 1.0 build extra") }
    }

    @Test func tokensAreRedacted() {
        #expect(Redaction.text("https://conda.anaconda.org/t/tk-123-secret/private/linux-64/x.conda") ==
                "https://conda.anaconda.org/t/<redacted>/private/linux-64/x.conda")
        #expect(Redaction.text("https://user:pw@host/chan") == "https://<redacted>@host/chan")
        #expect(ChannelURL.resolve("conda-forge") == ["https://conda.anaconda.org/conda-forge"])
        #expect(ChannelURL.resolve("conda-forge", alias: "https://mirror.example/conda/") == ["https://mirror.example/conda/conda-forge"])
        #expect(ChannelURL.resolve("/srv/chan/") == ["file:///srv/chan"])
        #expect("\(CondaError.repodata("https://x/t/abc/c answered 500"))" == "repodata: https://x/t/<redacted>/c answered 500")
    }
}

/// Lock files from public repositories (fixtures/conda-real), and the shebang rule.
struct LockFileTests {
    static let data = fixturePath("conda-real")

    @Test func readsRealLockFiles() throws {
        let explicit = try LockFile.read("\(Self.data)/conda+rattler/test-data/explicit-envs/xtensor_linux-64.txt", platform: "linux-64")
        #expect(explicit.first?.name == "_libgcc_mutex" && explicit.first?.md5 == "d7c89558ba9fa0495403155b64376d81")
        #expect(explicit.allSatisfy { $0.url.hasPrefix("https://conda.anaconda.org/conda-forge/") && $0.channel == "https://conda.anaconda.org/conda-forge" })
        let lock = try LockFile.read("\(Self.data)/conda+conda-lock/tests/test-environment-blas-mkl/conda-lock.yml", platform: "linux-64")
        #expect(lock.count == 40)
        #expect(lock.contains { $0.name == "mkl" } && lock.allSatisfy { $0.sha256 != nil || $0.md5 != nil })
        // Without hashes nothing could be verified: refused.
        let unhashed = #expect(throws: CondaError.self) {
            try LockFile.read("\(Self.data)/conda+rattler/test-data/explicit-envs/ros-noetic_linux-64.txt", platform: "linux-64")
        }
        #expect("\(unhashed.map { "\($0)" } ?? "")".contains("has no md5 or sha256"))
    }

    @Test func longShebangsBecomeEnv() {
        let prefix = "/" + String(repeating: "p", count: 130)
        let fixed = Linker.replaceText(Data("#!/PH/bin/python3.11 -E\nprint(1)\n".utf8), "/PH", prefix)
        #expect(String(decoding: fixed, as: UTF8.self) == "#!/usr/bin/env python3.11 -E\nprint(1)\n")
        let short = Linker.replaceText(Data("#!/PH/bin/python3.11\n/PH/lib\n".utf8), "/PH", "/opt/env")
        #expect(String(decoding: short, as: UTF8.self) == "#!/opt/env/bin/python3.11\n/opt/env/lib\n")
        let padded = try? Linker.replaceBinary(Data("a\0/PHPHPH/lib:/PHPHPH/x\0b".utf8), "/PHPHPH", "/o", what: "t")
        #expect(padded == Data("a\0/o/lib:/o/x\0\0\0\0\0\0\0\0\0\0\0b".utf8))
    }
}

/// The repodata scanner: records found by name without decoding them, escapes, and broken input.
struct RepodataScannerTests {
    @Test func indexesByNameAndDecodesOnDemand() throws {
        let json = #"""
        {"info": {"subdir": "linux-64", "base_url": "https://mirror.example/x"},
         "packages": {"a-1.0-0.tar.bz2": {"build": "0", "name": "a", "version": "1.0", "depends": ["b >=1"], "note": {"x": [1, "}"]}},
                      "b-1.0-0.tar.bz2": {"name": "b", "version": "1.0", "build": "0", "constrains": null}},
         "packages.conda": {"b-1.0-0.conda": {"name": "b", "version": "1.0", "build": "0", "track_features": "x y"},
                            "q\u00e9-1-0.conda": {"name": "q\"e", "version": "1", "build": "0"},
                            "Odd.conda": {"name": "Odd", "version": "2", "build": "1"}},
         "removed": ["a-0.9-0.tar.bz2"], "repodata_version": 1}
        """#
        let data = Data(json.utf8)
        let scan = try RepodataScanner(data, what: "test")
        #expect(scan.subdir == "linux-64" && scan.baseURL == "https://mirror.example/x" && scan.removed == ["a-0.9-0.tar.bz2"])
        // The package name comes from the file name (`<name>-<version>-<build>`), as rattler's sparse index
        // takes it; from `name` only for a file name of another shape.
        #expect(scan.byName["a"]?.count == 1 && scan.byName["b"]?.count == 2 && scan.byName["qé"]?.first?.fileName == "qé-1-0.conda")
        #expect(scan.byName["q\"e"] == nil && scan.byName["odd"]?.first?.fileName == "Odd.conda")
        #expect(RepodataScanner.packageName(fileName: "ca-certificates-2024.2.2-hbcca054_0.conda") == "ca-certificates")
        #expect(RepodataScanner.packageName(fileName: "_libgcc_mutex-0.1-main.tar.bz2") == "_libgcc_mutex")
        for odd in ["a-1.conda", "-1-0.conda", "a-1-.tar.bz2", "a--0.conda", "a-1-0.whl", "a-1-0"] {
            #expect(RepodataScanner.packageName(fileName: odd) == nil, "\(odd)")
        }
        #expect(scan.condaStems.contains("b-1.0-0"))
        let records = try RepodataScanner.decode(scan.byName["b"] ?? [], from: scan.bytes)
        #expect(records.map(\.build) == ["0", "0"] && records.last?.trackFeatures == ["x", "y"] && records.first?.constrains == nil)
        let a = try RepodataScanner.decode(scan.byName["a"] ?? [], from: scan.bytes)
        #expect(a.first?.depends == ["b >=1"])
        for broken in [#"{"packages": {"a": {"name": "a""#, #"{"packages": {"a-1-0.conda": {"name": "a""#, #"{"packages": {"a-1-0.conda": 5}}"#,
                       #"["#, #"{"packages": {"a" {}}}"#, ""] {
            #expect(throws: CondaError.self) { try RepodataScanner(Data(broken.utf8), what: "broken") }
        }
    }
}

/// Real packages from public repositories (fixtures/conda-real): a legacy `has_prefix` package
/// and a `.conda` with a text placeholder and softlinks, extracted and linked.
struct RealPackageTests {
    @Test func legacyHasPrefixPackageLinksAndABrokenOneIsRefused() throws {
        let data = LockFileTests.data
        let work = try TemporaryDirectory("real-packages")
        // conda's test copy of zlib holds symlinks with empty targets: refused, nothing left behind.
        let zlib = "\(data)/conda+conda/tests/data/conda_format_repo/linux-64/zlib-1.2.11-h7b6447c_3.conda"
        let broken = #expect(throws: CondaError.self) { try PackageArchive.extract(URL(fileURLWithPath: zlib), into: work.url.appendingPathComponent("zlib")) }
        #expect("\(broken.map { "\($0)" } ?? "")".contains("symlink lib/libz.so.1 has an empty target"))
        #expect(!FileManager.default.fileExists(atPath: work.file("zlib")))
        let packages = [("\(data)/artipie+artipie/artipie-main/src/test/resources/conda/snappy-1.1.3-0.tar.bz2", "snappy", "1.1.3", "0")]
        var linked: [(record: PackageRecord, directory: URL)] = []
        for (path, name, version, build) in packages {
            let directory = work.url.appendingPathComponent("x-\(name)")
            try PackageArchive.extract(URL(fileURLWithPath: path), into: directory)
            let record = try PackageRecord(fileName: URL(fileURLWithPath: path).lastPathComponent,
                                           raw: ["name": .string(name), "version": .string(version), "build": .string(build)],
                                           channel: "file:///real", subdir: "linux-64")
            linked.append((record, directory))
        }
        let info = try PackageInfo.read(linked[0].directory, what: "snappy")
        #expect(info.paths.contains { $0.path == "lib/libsnappy.la" && $0.placeholder == "/opt/anaconda1anaconda2anaconda3" && !$0.binary })
        let prefix = "/azureml-envs/azureml_real"
        var linker = Linker(prefix: prefix, root: work.url.appendingPathComponent("prefix"))
        try linker.install(linked, requested: [])
        let la = try String(contentsOfFile: work.file("prefix/lib/libsnappy.la"), encoding: .utf8)
        #expect(la.contains("libdir='\(prefix)/lib'") && !la.contains("anaconda1anaconda2anaconda3"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: work.file("prefix/lib/libsnappy.so")).hasPrefix("libsnappy.so."))
        let meta = try String(contentsOfFile: work.file("prefix/conda-meta/snappy-1.1.3-0.json"), encoding: .utf8)
        #expect(meta.contains("\"prefix_placeholder\":\"/opt/anaconda1anaconda2anaconda3\"") && meta.contains("\"softlink\""))
        for file in ["lib/libsnappy.la"] {
            let text = try String(contentsOfFile: work.file("prefix/\(file)"), encoding: .utf8)
            #expect(text.contains(prefix) && !text.contains("placehold") && !text.contains("anaconda1anaconda2anaconda3"), "\(file)")
        }
    }
}
