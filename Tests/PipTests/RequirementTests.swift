import Foundation
@testable import Pip
import Testing
import TestSupport

/// PEP 508 requirements and markers, and wheel tags, checked against `packaging` 26.3 in the same run.
struct RequirementTests {
    func peer(_ script: String, _ arguments: [String]) throws -> Any {
        let result = try run(try peerPython(), ["-c", script] + arguments)
        #expect(result.status == 0, "\(result.stderr)")
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    static let requirements = [
        "flask", "Flask>=2.0", "flask [async, dotenv] >= 2.0, < 4", "requests[security,socks]==2.31.0", "numpy (>=1.21,<2)",
        "azureml-inference-server-http~=1.0", "zope.interface", "typing_extensions; python_version < \"3.12\"",
        "pywin32 >= 1.0; sys_platform == 'win32'", "uvloop; platform_system != \"Windows\" and implementation_name == \"cpython\"",
        "importlib-metadata>=4; python_full_version < '3.10.2' or python_version >= \"3.11\"",
        "tomli; python_version in '3.9 3.10'", "dataclasses; python_version not in '3.11 3.12'",
        "pkg @ https://example.com/pkg-1.0-py3-none-any.whl", "pkg @ https://example.com/pkg-1.0-py3-none-any.whl ; os_name == \"posix\"",
        "socks-extra; extra == 'socks'", "fancy; extra == \"Fancy_Stuff\" and python_version >= '3'", "aarch; platform_machine == 'aarch64'",
        "cpython-only; platform_python_implementation == 'CPython' and os.name == 'posix'",
        "old; python_version <= '2.7'", "weird; '3.11' == python_version", "prerelease >= 1.0a1, != 1.5.*",
    ]

    @Test func requirementsAndMarkersMatchPackaging() throws {
        let theirs = try peer("""
        import json, sys
        from packaging.requirements import Requirement
        env = {"python_version": "3.11", "python_full_version": "3.11.4", "implementation_version": "3.11.4",
               "implementation_name": "cpython", "platform_python_implementation": "CPython", "os_name": "posix",
               "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "platform_release": "",
               "platform_version": ""}
        out = []
        for text in sys.argv[1:]:
            r = Requirement(text)
            results = []
            for extra in ["", "socks", "fancy-stuff"]:
                results.append(True if r.marker is None else r.marker.evaluate(dict(env, extra=extra)))
            out.append({"name": r.name, "extras": sorted(r.extras), "specifier": str(r.specifier), "url": r.url, "marker": results})
        print(json.dumps(out))
        """, Self.requirements) as? [[String: Any]]
        let environment = MarkerEnvironment(python: try PythonVersion("3.11.4"), machine: "x86_64")
        for (text, expected) in zip(Self.requirements, theirs ?? []) {
            let mine = try Requirement(parsing: text)
            #expect(mine.name == expected["name"] as? String, "\(text)")
            #expect(mine.extras == (expected["extras"] as? [String] ?? []).map(normalizeName).sorted(), "\(text)")
            #expect(mine.url == expected["url"] as? String, "\(text)")
            let theirSpecifier = try VersionSpecifiers(parsing: expected["specifier"] as? String ?? "")
            #expect(Set(mine.specifiers.clauses.map(\.description)) == Set(theirSpecifier.clauses.map(\.description)), "\(text)")
            let results = [Set<String>(), ["socks"], ["fancy-stuff"]].map { mine.marker?.evaluate(environment, extras: $0) ?? true }
            #expect(results == expected["marker"] as? [Bool], "\(text)")
        }
        let bad = ["", "-flask", "flask[", "flask >= ", "flask; python_version <", "flask; nonsense == '1'", "flask @ ", "flask; (os_name == 'posix'"]
        for text in bad { #expect(throws: PipError.self, "\(text)") { try Requirement(parsing: text) } }
    }

    @Test func supportedTagsMatchPackaging() throws {
        let theirs = try peer("""
        import json
        from packaging import tags, _manylinux
        _manylinux._get_glibc_version = lambda: _manylinux._GLibCVersion(2, 28)
        _manylinux._is_compatible = lambda arch, version: True
        plats = list(_manylinux.platform_tags(["x86_64"])) + ["linux_x86_64"]
        result = [str(t) for t in tags.cpython_tags((3, 11), abis=["cp311"], platforms=plats)]
        result += [str(t) for t in tags.compatible_tags((3, 11), "cp311", plats)]
        print(json.dumps(result))
        """, []) as? [String]
        let target = PythonTarget(python: try PythonVersion("3.11.4"), glibc: (2, 28), machine: "x86_64")
        #expect(target.supportedTags == theirs)
        // A manylinux_2_31 wheel does not fit glibc 2.28; the 2014 one does; a pure wheel ranks last.
        let ranks = target.tagRanks
        #expect(WheelName("native-1.0-cp311-cp311-manylinux_2_31_x86_64.whl")?.rank(ranks) == nil)
        let old = try #require(WheelName("native-0.9-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")?.rank(ranks))
        let pure = try #require(WheelName("x-1.0-py3-none-any.whl")?.rank(ranks))
        let abi3 = try #require(WheelName("cryptography-50.0.2-cp311-abi3-manylinux_2_28_x86_64.whl")?.rank(ranks))
        #expect(old < abi3 || old > abi3)
        #expect(abi3 < pure && old < pure)
        #expect(WheelName("x-1.0-cp312-cp312-manylinux_2_17_x86_64.whl")?.rank(ranks) == nil)
        #expect(PythonTarget(python: try PythonVersion("3.11"), glibc: nil, machine: "aarch64").platforms == ["linux_aarch64"])
    }

    @Test func requirementFilesReadAsPipReadsThem() throws {
        let directory = try TemporaryDirectory("reqs")
        try directory.write("base.txt", "# shared\nflask>=2 \\\n  ,<4  # a comment\n--extra-index-url https://mirror.example/simple/\n")
        try directory.write("wheels/local-1.0-py3-none-any.whl", "")
        let text = """
        -r base.txt
        --index-url https://${INDEX_USER}:${INDEX_TOKEN}@private.example/simple
        numpy==1.26.4 --hash=sha256:AAAA --hash=sha256:bbbb
        requests[socks] >= 2.31 ; python_version >= "3.8"
        ./wheels/local-1.0-py3-none-any.whl
        https://files.example/pkg-2.0-py3-none-any.whl#sha256=cccc
        --find-links wheels
        --pre
        """
        let file = try RequirementsFile(text: text, directory: directory.path, environment: ["INDEX_USER": "u", "INDEX_TOKEN": "t0ken"])
        #expect(file.entries.map(\.requirement.key) == ["flask", "numpy", "requests", "local", "pkg"])
        #expect(file.entries[0].requirement.specifiers.description == ">=2,<4")
        #expect(file.entries[0].origin.hasSuffix("base.txt:2"))
        #expect(file.entries[1].hashes == ["bbbb", "aaaa"])
        #expect(file.entries[2].requirement.extras == ["socks"] && file.entries[2].requirement.marker != nil)
        #expect(file.entries[3].requirement.url == "file://\(directory.path)/./wheels/local-1.0-py3-none-any.whl")
        #expect(file.entries[4].requirement.url == "https://files.example/pkg-2.0-py3-none-any.whl#sha256=cccc")
        #expect(file.indexURL == "https://u:t0ken@private.example/simple")
        #expect(file.extraIndexURLs == ["https://mirror.example/simple"])
        #expect(file.findLinks == [directory.path + "/wheels"] && file.pre)

        let refused: [(String, String)] = [
            ("-e .", "editable installs (-e) link a working tree"),
            ("git+https://github.com/org/repo.git@main", "is a VCS checkout"),
            ("pkg @ https://u:secret@host.example/pkg-1.0.exe", "is neither a wheel nor a source distribution"),
            ("--no-binary :all:", "--no-binary (building a package that has a wheel from its source) is not supported"),
            ("--frobnicate", "the option --frobnicate is not supported"),
            ("-r missing.txt", "cannot read requirements file"),
            ("-c missing.txt", "cannot read constraints file"),
            ("flask >= ", "invalid requirement"),
            ("flask --hash=md5:abc", "only sha256 hashes are supported"),
        ]
        for (line, message) in refused {
            #expect { try RequirementsFile(text: line, directory: directory.path) } throws: { error in
                let text = "\(error)"
                return text.contains(message) && text.contains("<pip>:1") && !text.contains("secret")
            }
        }
    }

    @Test func coreMetadataWithFoldedHeadersAndCRLF() throws {
        let text = "Metadata-Version: 2.1\r\nName: Demo.Pkg\r\nVersion: 1.0.post1\r\nRequires-Python: >=3.8\r\nRequires-Dist: a>=1\r\nRequires-Dist: b; extra == \"x\"\r\nProvides-Extra: X\r\nDescription: line one\r\n        line two\r\n\r\nRequires-Dist: not-a-header\r\n"
        let metadata = try CoreMetadata(Data(text.utf8), source: "demo")
        #expect(metadata.name == "Demo.Pkg" && metadata.version.description == "1.0.post1")
        #expect(metadata.requiresDist.map(\.key) == ["a", "b"] && metadata.providesExtra == ["x"])
        #expect(metadata.requiresPython?.description == ">=3.8")
        #expect(throws: PipError.self) { try CoreMetadata(Data("Name: x\n".utf8), source: "x") }
        // Values keep their non-ASCII text; spaces, tabs and other Unicode spaces around them go; keys are lowercased.
        let headers = CoreMetadata.headers("NAME:\u{00A0}données \u{00A0}\nSummary:\tx y\t\nKeywords:\n  a,\n\tb\n\nBody: no\n")
        #expect(headers.map(\.0) == ["name", "summary", "keywords"] && headers.map(\.1) == ["données", "x y", " a, b"])
    }
}
