import Foundation
import Testing
import TestSupport

/// Every bad input gives one line on stderr, a non-zero exit, and no output (nor leftover staging files).
@Suite struct CLIBadInputTests {
    func expectCleanFailure(_ arguments: [String], output: String, in directory: TemporaryDirectory,
                            mentions: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = Set((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
        let result = try KilnBinary.run(["build"] + arguments + ["--output", output])
        #expect(result.status != 0, sourceLocation: sourceLocation)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.hasPrefix("kiln: error: "), sourceLocation: sourceLocation)
        if !mentions.isEmpty { #expect(result.stderr.contains(mentions), "stderr: \(result.stderr)", sourceLocation: sourceLocation) }
        let after = Set((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
        #expect(after == before, "left behind: \(after.subtracting(before))", sourceLocation: sourceLocation)
    }

    @Test(arguments: ["oci", "docker-archive"])
    func missingSource(_ kind: String) throws {
        let out = try TemporaryDirectory("out")
        try expectCleanFailure(["--base", "scratch", "--model", "m:1=/nonexistent/model.onnx"],
                               output: "\(kind):\(out.file("result"))", in: out, mentions: "source not found: /nonexistent/model.onnx")
    }

    @Test func symlinkEscapingItsRoot() throws {
        let fixture = try Fixture()
        try fixture.root.symlink("code/leak", to: "../../../../etc/shadow")
        let out = try TemporaryDirectory("out")
        try expectCleanFailure(fixture.standardArguments, output: "oci:\(out.file("result"))", in: out, mentions: "escapes its source root")
    }

    @Test(arguments: ["docker-archive:OUT:Not/Valid", "docker-archive:OUT:a//b:1", "docker-archive:OUT:app@sha256:1234"])
    func invalidReference(_ output: String) throws {
        let out = try TemporaryDirectory("out")
        try expectCleanFailure(["--base", "scratch"], output: output.replacingOccurrences(of: "OUT", with: out.file("x.tar")),
                               in: out, mentions: "invalid image reference")
    }

    @Test func invalidBaseReference() throws {
        let out = try TemporaryDirectory("out")
        try expectCleanFailure(["--base", "Registry.io/UPPER/Case"], output: "oci:\(out.file("r"))", in: out,
                               mentions: "invalid image reference")
    }

    @Test(arguments: ["{\"entryScript\": \"score.py\",", "[1,2]", "{\"entryScript\": 42}", ""])
    func malformedInferenceConfig(_ text: String) throws {
        let fixture = try Fixture()
        try fixture.root.write("inferenceconfig.json", text)
        let out = try TemporaryDirectory("out")
        try expectCleanFailure(["--base", "scratch", "--inference-config", fixture.root.file("inferenceconfig.json")],
                               output: "oci:\(out.file("r"))", in: out, mentions: "malformed")
    }

    @Test(arguments: ["NOEQUALS", "1BAD=x", "BAD-NAME=x", "=value"])
    func invalidEnv(_ env: String) throws {
        let out = try TemporaryDirectory("out")
        try expectCleanFailure(["--base", "scratch", "--env", env], output: "oci:\(out.file("r"))", in: out, mentions: "--env")
    }

    @Test func unwritableOutput() throws {
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        try out.write("a-file", "not a directory")
        // Root ignores permission bits, so use places no one can write: below a file, and in /proc.
        try expectCleanFailure(fixture.standardArguments, output: "oci:\(out.file("a-file/layout"))", in: out, mentions: "output")
        try expectCleanFailure(fixture.standardArguments, output: "docker-archive:\(out.file("a-file/image.tar"))", in: out, mentions: "output")
        let proc = try KilnBinary.run(["build"] + fixture.standardArguments + ["--output", "oci:/proc/kiln-cannot-write"])
        #expect(proc.status != 0)
        #expect(proc.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: "/proc/kiln-cannot-write"))
    }

    @Test func outputThatIsNotALayout() throws {
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        try out.write("existing/file.txt", "mine")
        try expectCleanFailure(fixture.standardArguments, output: "oci:\(out.file("existing"))", in: out, mentions: "is not an OCI layout")
        #expect(try String(contentsOfFile: out.file("existing/file.txt"), encoding: .utf8) == "mine")
    }

    @Test func dockerArchiveOntoADirectory() throws {
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        try out.write("taken/keep.txt", "mine")
        try expectCleanFailure(fixture.standardArguments, output: "docker-archive:\(out.file("taken"))", in: out, mentions: "is a directory")
        #expect(try String(contentsOfFile: out.file("taken/keep.txt"), encoding: .utf8) == "mine")
    }

    @Test(arguments: [["--expose", "99999"], ["--expose", "80/http"], ["--workdir", "relative"], ["--compression", "lz4"],
                      ["--model", "no-version=/tmp"], ["--model", "../x:1=/tmp"], ["--add", "no-destination"],
                      ["--add", "/tmp:relative/dest"], ["--platform", "linux"], ["--entrypoint", "[1,2"],
                      ["--label", "=v"], ["--base", "oci:/nonexistent/layout"], ["--tag", "bad tag"]])
    func otherInvalidFlags(_ flags: [String]) throws {
        let out = try TemporaryDirectory("out")
        try expectCleanFailure(["--base", "scratch"] + flags, output: "oci:\(out.file("r"))", in: out, mentions: "")
    }

    @Test func invalidSourceDateEpoch() throws {
        let out = try TemporaryDirectory("out")
        let result = try KilnBinary.run(["build", "--base", "scratch", "--output", "oci:\(out.file("r"))"], environment: ["SOURCE_DATE_EPOCH": "yesterday"])
        #expect(result.status != 0)
        #expect(result.stderr == "kiln: error: SOURCE_DATE_EPOCH 'yesterday': expected whole seconds since 1970\n")
        #expect(!FileManager.default.fileExists(atPath: out.file("r")))
    }
}

@Suite struct OutputParentTests {
    @Test func missingParentsAreCreatedAndRemovedAgainOnFailure() throws {
        let out = try TemporaryDirectory("out")
        let failed = try KilnBinary.run(["build", "--model", "m:1=/nonexistent", "--output", "oci:\(out.file("a/b/c/layout"))"])
        #expect(failed.status != 0)
        #expect(!FileManager.default.fileExists(atPath: out.file("a")))
        let fixture = try Fixture()
        _ = try KilnBinary.build(fixture.standardArguments + ["--output", "docker-archive:\(out.file("a/b/image.tar"))"])
        #expect(FileManager.default.fileExists(atPath: out.file("a/b/image.tar")))
    }
}

/// The README's first commands are the example script and `kiln run` of what it builds; the script's build
/// is the one `ServingTests.v1InferenceConfigServesFromTheRegistry` runs (over a loopback index and registry).
@Suite struct ReadmeTests {
    @Test func mainCommandsAreTheServingExample() throws {
        let readme = try String(contentsOfFile: fixturePath("../README.md"), encoding: .utf8)
        let block = try #require(readme.components(separatedBy: "```sh\n").dropFirst().first?.components(separatedBy: "```").first)
        let commands = block.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
        #expect(Array(commands) == ["bash scripts/example.sh",
                                    ".build/release/kiln run oci:out/sklearn-diabetes/image:1 --request out/sklearn-diabetes/request.json",
                                    "bash scripts/test.sh"].map { Substring($0) }, "\(commands)")
        let script = try String(contentsOfFile: fixturePath("../scripts/example.sh"), encoding: .utf8)
        #expect(script.contains(".build/release/kiln build fixtures/sklearn-diabetes/inferenceconfig.json --model \"diabetes:1=$out/model\""))
        #expect(script.contains("--requirements \"$out/requirements.txt\""))
        let ci = try String(contentsOfFile: fixturePath("../.ci/run"), encoding: .utf8)
        #expect(ci.contains("bash scripts/test.sh"), "CI runs the README's test command")
    }
}
