import Foundation
import Testing
import TestSupport

@Suite(.serialized) struct ReproducibilityTests {
    @Test func sameInputsSameDigestsAcrossCopiesUmaskMtimeAndPath() throws {
        let one = try Fixture(label: "copy-one", mode: 0o600, mtime: Date(timeIntervalSince1970: 5))
        let two = try Fixture(label: "a-different-copy-two", mode: 0o664, mtime: Date())
        let out = try TemporaryDirectory("out")
        let a = try KilnBinary.build(one.standardArguments + ["--output", "oci:\(out.file("a"))"], directory: one.root.path)
        let b = try KilnBinary.build(two.standardArguments + ["--output", "oci:\(out.file("b"))"], environment: ["TZ": "Asia/Tokyo"],
                               directory: "/")
        #expect(a.manifestDigest == b.manifestDigest)
        #expect(a.configDigest == b.configDigest)
        #expect(a.layers.map(\.digest) == b.layers.map(\.digest))
        #expect(a.layers.count == 2)
    }

    @Test func sourceDateEpochChangesDigestsAndOnlyIt() throws {
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        let plain = try KilnBinary.build(fixture.standardArguments + ["--output", "oci:\(out.file("a"))"])
        let again = try KilnBinary.build(fixture.standardArguments + ["--output", "oci:\(out.file("b"))"], environment: ["LANG": "C"])
        let dated = try KilnBinary.build(fixture.standardArguments + ["--output", "oci:\(out.file("c"))"],
                                   environment: ["SOURCE_DATE_EPOCH": "1700000000"])
        let datedAgain = try KilnBinary.build(fixture.standardArguments + ["--output", "oci:\(out.file("d"))"],
                                        environment: ["SOURCE_DATE_EPOCH": "1700000000"])
        #expect(plain.manifestDigest == again.manifestDigest)
        #expect(plain.manifestDigest != dated.manifestDigest)
        #expect(Set(plain.layers.map(\.diffID)).isDisjoint(with: dated.layers.map(\.diffID)))
        #expect(dated.manifestDigest == datedAgain.manifestDigest)
        let inspect = try KilnBinary.run(["inspect", "oci:\(out.file("c"))"])
        #expect(inspect.stdout.contains(#""created" : "2023-11-14T22:13:20Z""#))
    }

    @Test func layersGoFromModelToCode() throws {
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        _ = try KilnBinary.build(fixture.standardArguments + ["--add", "\(fixture.root.file("code/bin/start.sh")):/usr/local/bin/",
                                                        "--output", "oci:\(out.file("img"))"])
        let inspect = try KilnBinary.run(["inspect", "oci:\(out.file("img"))"])
        let model = try #require(inspect.stdout.range(of: "kiln build: model sklearn:3"))
        let files = try #require(inspect.stdout.range(of: "kiln build: files /usr/local/bin/"))
        let code = try #require(inspect.stdout.range(of: "kiln build: code code/score.py"))
        #expect(model.lowerBound < files.lowerBound && files.lowerBound < code.lowerBound)
    }
}
