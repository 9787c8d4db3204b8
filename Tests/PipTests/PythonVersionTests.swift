import Foundation
@testable import Pip
import Testing
import TestSupport

/// PEP 440 versions and specifiers, checked against `packaging` (the library pip and uv's tests follow),
/// run in the same test from .venv-peers.
struct PythonVersionTests {
    static let versions = [
        "1.0", "1.0.0", "v1.0", "1.0.dev0", "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12", "1.0b1.dev456",
        "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345", "1.0b2-346", "1.0c1.dev456", "1.0c1", "1.0rc2", "1.0c3", "1.0.post456.dev34",
        "1.0.post456", "1.0-r4", "1.0.rev5", "1.1.dev1", "1.0+abc.5", "1.0+abc.7", "1.0+5", "1.0+ubuntu-1", "1.0.post1+local",
        "1!0.5", "2.0.0.0.1", "1.0alpha1", "1.0-beta.2", "1.0.preview3", "1.0pre4", "0.9", "10.0", "1.2.3.4.5", "1.0_post_2",
        "2023.10", "3.11.4", "3.11", "3.12.0rc1", "1.0.0-1",
    ]
    static let specifiers = [">=1.0", "<1.0", "<=1.0", ">1.0", "==1.0", "==1.0.*", "!=1.0.*", "~=1.0", "~=1.0.0", "!=1.0", "==1.0+abc.5",
                             ">=1.0a1", "<1.1", ">1.0.post456", "<1.0rc2", ">=1.0,<2", "~=3.11", "==3.*", ">=3.8,!=3.11.*", "===1.0"]

    func peer(_ script: String, _ argument: [String]) throws -> Any {
        let result = try run(try peerPython(), ["-c", script] + argument)
        #expect(result.status == 0, "\(result.stderr)")
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    @Test func orderAndNormalFormMatchPackaging() throws {
        let theirs = try peer("""
        import json, sys
        from packaging.version import Version
        vs = sys.argv[1:]
        order = sorted(range(len(vs)), key=lambda i: (Version(vs[i]), i))
        print(json.dumps({"normal": [str(Version(v)) for v in vs], "order": order}))
        """, Self.versions) as? [String: Any]
        let parsed = try Self.versions.map(PythonVersion.init)
        #expect(parsed.map(\.description) == theirs?["normal"] as? [String])
        let order = parsed.indices.sorted { parsed[$0] != parsed[$1] ? parsed[$0] < parsed[$1] : $0 < $1 }
        #expect(order == theirs?["order"] as? [Int])
        #expect(try PythonVersion("1.0") == PythonVersion("1.0.0") && PythonVersion("1.0").hashValue == PythonVersion("1.0.0").hashValue)
        for bad in ["", "1.0+", "1.0+a..b", "foo", "1.0-", "1..0", "1.0+ab!"] {
            #expect(throws: PipError.self) { try PythonVersion(bad) }
        }
    }

    @Test func specifierMatchesPackaging() throws {
        let theirs = try peer("""
        import json, sys
        from packaging.specifiers import SpecifierSet
        from packaging.version import Version
        n = int(sys.argv[1]); specs = sys.argv[2:2 + n]; vs = sys.argv[2 + n:]
        print(json.dumps([[[SpecifierSet(s).contains(Version(v), prereleases=p) for v in vs] for s in specs] for p in (True, False)]))
        """, ["\(Self.specifiers.count)"] + Self.specifiers + Self.versions) as? [[[Bool]]]
        // With prereleases given either way: packaging 26 changed what `None` means for one version.
        for (page, prereleases) in [true, false].enumerated() {
            for (row, text) in Self.specifiers.enumerated() {
                let set = try VersionSpecifiers(parsing: text)
                let ours = try Self.versions.map { set.contains(try PythonVersion($0), prereleases: prereleases) }
                let expected = theirs?[page][row] ?? []
                #expect(expected.count == ours.count)
                for (column, version) in Self.versions.enumerated() where column < expected.count && ours[column] != expected[column] {
                    Issue.record("\(text) contains \(version) (prereleases \(prereleases)): kiln \(ours[column]), packaging \(expected[column])")
                }
            }
        }
        for bad in ["1.0", ">=", "<=1.0.*", "~=1", "==1.0.dev1.*", ">=foo"] {
            #expect(throws: PipError.self) { try VersionSpecifiers(parsing: bad) }
        }
    }
}
