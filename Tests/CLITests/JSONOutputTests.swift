import Foundation
import Testing
import TestSupport

/// `--json` prints one JSON document on stdout and nothing else there.
@Suite struct JSONOutputTests {
    static func document(_ result: ProcessResult) throws -> [String: Any] {
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        return try #require(object as? [String: Any], "\(result.stdout)")
    }

    @Test func pushPullAndTags() throws {
        let root = try TemporaryDirectory("json")
        try root.write("in/a.txt", "a")
        let built = try KilnBinary.build(["--base", "scratch", "--add", "\(root.file("in")):/data", "--output", "oci:\(root.file("img")):1"])
        let registry = try TestRegistry()
        let pushed = try Self.document(KilnBinary.run(["push", "oci:\(root.file("img")):1", "\(registry.host)/json/app:7", "--json"]))
        #expect(pushed["manifestDigest"] as? String == built.manifestDigest)
        #expect(pushed["pushed"] as? String == "\(registry.host)/json/app:7")
        #expect((pushed["uploaded"] as? [String])?.count == 2, "layer and config")
        let tags = try Self.document(KilnBinary.run(["tags", "\(registry.host)/json/app", "--json"]))
        #expect(tags["tags"] as? [String] == ["7"])
        let pulled = try Self.document(KilnBinary.run(["pull", "\(registry.host)/json/app:7", "oci:\(root.file("pulled")):7", "--json"]))
        #expect(pulled["manifestDigest"] as? String == built.manifestDigest)
    }
}
