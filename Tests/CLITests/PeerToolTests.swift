import Foundation
import OCI
import Testing
import TestSupport

/// Independent tools read what Kiln writes: oci-image-tool, umoci, skopeo and runc.
@Suite(.serialized) struct PeerToolTests {
    @Test func ociImageToolValidatesTheLayout() throws {
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        _ = try KilnBinary.build(fixture.standardArguments + ["--output", "oci:\(out.file("layout")):v1"])
        let result = try run("oci-image-tool", ["validate", "--type", "image", "--ref", "name=v1", out.file("layout")])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("Validation succeeded"))
    }

    @Test func umociUnpacksTheInputsExactly() throws {
        let fixture = try Fixture(mode: 0o600)
        let out = try TemporaryDirectory("out")
        _ = try KilnBinary.build(fixture.standardArguments + ["--output", "oci:\(out.file("layout")):v1"])
        let unpack = try run("umoci", ["unpack", "--image", "\(out.file("layout")):v1", out.file("bundle")])
        #expect(unpack.status == 0, "\(unpack.stderr)")
        let rootfs = out.file("bundle/rootfs")
        try expectSameTree(fixture.root.file("model/sklearn_model"), "\(rootfs)/var/azureml-app/azureml-models/sklearn/3/sklearn_model")
        try expectSameTree(fixture.root.file("code"), "\(rootfs)/var/azureml-app/code")
        let config = try String(contentsOfFile: out.file("bundle/config.json"), encoding: .utf8)
        #expect(config.contains("AZUREML_ENTRY_SCRIPT=code/score.py"))
        #expect(config.contains("AZUREML_MODEL_DIR=/var/azureml-app/azureml-models/sklearn/3"))
    }

    /// Content, normalised mode and symlink target of every input path match the unpacked tree.
    func expectSameTree(_ input: String, _ unpacked: String) throws {
        let fm = FileManager.default
        var seen = 0
        for case let relative as String in fm.enumerator(atPath: input)! {
            seen += 1
            let source = "\(input)/\(relative)"
            let target = "\(unpacked)/\(relative)"
            if let link = try? fm.destinationOfSymbolicLink(atPath: source) {
                #expect(try fm.destinationOfSymbolicLink(atPath: target) == link, "\(relative)")
                continue
            }
            let attributes = try fm.attributesOfItem(atPath: target)
            let mode = (attributes[.posixPermissions] as? Int) ?? -1
            if (try fm.attributesOfItem(atPath: source)[.type] as? FileAttributeType) == .typeDirectory {
                #expect(mode == 0o755, "\(relative)")
            } else {
                let executable = ((try fm.attributesOfItem(atPath: source)[.posixPermissions] as? Int) ?? 0) & 0o111 != 0
                #expect(mode == (executable ? 0o755 : 0o644), "\(relative)")
                #expect(fm.contents(atPath: source) == fm.contents(atPath: target), "\(relative)")
            }
        }
        #expect(seen > 0)
    }

    @Test func skopeoReportsOurDigests() throws {
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        let layout = try KilnBinary.build(fixture.standardArguments + ["--output", "oci:\(out.file("layout")):v1"])
        let inspect = try run("skopeo", ["inspect", "oci:\(out.file("layout")):v1"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        struct Report: Decodable { var Digest: String; var Layers: [String] }
        let report = try JSONDecoder().decode(Report.self, from: Data(inspect.stdout.utf8))
        #expect(report.Digest == layout.manifestDigest)
        #expect(report.Layers == layout.layers.map(\.digest))
        let rawConfig = try run("skopeo", ["inspect", "--config", "--raw", "oci:\(out.file("layout")):v1"])
        #expect("sha256:" + sha256Hex(rawConfig.stdout) == layout.configDigest)

        let archive = try KilnBinary.build(fixture.standardArguments + ["--output", "docker-archive:\(out.file("image.tar")):ml/sklearn:3"])
        #expect(archive.manifestDigest == layout.manifestDigest)
        let fromArchive = try run("skopeo", ["inspect", "docker-archive:\(out.file("image.tar"))"])
        #expect(fromArchive.status == 0, "\(fromArchive.stderr)")
        let archiveReport = try JSONDecoder().decode(Report.self, from: Data(fromArchive.stdout.utf8))
        // A docker archive holds uncompressed layers, so their digests are the diffIDs.
        #expect(archiveReport.Layers == layout.layers.map(\.diffID))
        let archiveConfig = try run("skopeo", ["inspect", "--config", "--raw", "docker-archive:\(out.file("image.tar"))"])
        #expect("sha256:" + sha256Hex(archiveConfig.stdout) == layout.configDigest)
        let archiveManifest = try run("tar", ["-xOf", out.file("image.tar"), "manifest.json"])
        #expect(archiveManifest.stdout.contains(#""RepoTags":["ml/sklearn:3"]"#))
        // skopeo copies the archive into a layout of its own, and the image is unchanged.
        let copy = try run("skopeo", ["copy", "docker-archive:\(out.file("image.tar"))", "oci:\(out.file("copied")):x"])
        #expect(copy.status == 0, "\(copy.stderr)")
        let diff = try KilnBinary.run(["diff", "oci:\(out.file("layout")):v1", "oci:\(out.file("copied")):x"])
        #expect(diff.stdout == "no differences\n")
    }

    @Test func runcRunsACommandThatReadsTheModel() throws {
        let work = try TemporaryDirectory("runc")
        // A busybox base image, built by kiln itself from Debian's busybox-static.
        try work.mkdir("busybox/bin")
        try FileManager.default.copyItem(atPath: try which("busybox"), toPath: work.file("busybox/bin/busybox"))
        for tool in ["sh", "cat", "ls"] { try work.symlink("busybox/bin/\(tool)", to: "busybox") }
        _ = try KilnBinary.build(["--base", "scratch", "--add", "\(work.file("busybox")):/", "--output", "oci:\(work.file("base")):latest"])
        try work.write("model/weights.txt", "weights-for-runc-\(UUID().uuidString)\n")
        _ = try KilnBinary.build(["--base", "oci:\(work.file("base")):latest", "--model", "tiny:1=\(work.file("model/weights.txt"))",
                            "--cmd", #"["/bin/sh","-c","cat $AZUREML_MODEL_DIR/weights.txt"]"#,
                            "--output", "oci:\(work.file("image")):v1"])
        let unpack = try run("umoci", ["unpack", "--image", "\(work.file("image")):v1", work.file("bundle")])
        #expect(unpack.status == 0, "\(unpack.stderr)")
        // umoci asks for a terminal; the test has none.
        let configPath = work.file("bundle/config.json")
        var spec = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as! [String: Any]
        var process = spec["process"] as! [String: Any]
        process["terminal"] = false
        spec["process"] = process
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: configPath))
        let id = "kiln-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let result = try run("timeout", ["60", try which("runc"), "run", "--bundle", work.file("bundle"), id])
        _ = try? run("runc", ["delete", "--force", id])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == (try String(contentsOfFile: work.file("model/weights.txt"), encoding: .utf8)))
    }
}

func sha256Hex(_ text: String) -> String {
    var data = Data(text.utf8)
    // skopeo prints the raw blob; strip the newline it may add.
    if data.last == 0x0a { data.removeLast() }
    return Digest.sha256(of: data).encoded
}
