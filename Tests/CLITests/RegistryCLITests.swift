import Foundation
import OCI
import Testing
import TestSupport

/// kiln against a real distribution 2.8.2, with skopeo as the independent client.
@Suite(.serialized) struct RegistryCLITests {
    struct SkopeoInspect: Decodable { var Digest: String; var Layers: [String] }

    func buildImage(_ fixture: Fixture, into layout: String) throws -> KilnBinary.BuildOutput {
        try KilnBinary.build(fixture.standardArguments + ["--output", "oci:\(layout):v1"])
    }

    @Test func anonymousPushSkopeoReadsAndSecondPushUploadsNothing() throws {
        let registry = try TestRegistry()
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        let built = try buildImage(fixture, into: out.file("layout"))
        let push = try KilnBinary.run(["push", "oci:\(out.file("layout")):v1", "\(registry.host)/ml/sklearn:3"])
        #expect(push.status == 0, "\(push.stderr)")
        #expect(push.stdout.contains("uploaded 3, mounted 0, present 0"))
        let inspect = try run("skopeo", ["inspect", "--tls-verify=false", "docker://\(registry.host)/ml/sklearn:3"])
        let report = try JSONDecoder().decode(SkopeoInspect.self, from: Data(inspect.stdout.utf8))
        #expect(report.Digest == built.manifestDigest)
        #expect(report.Layers == built.layers.map(\.digest))
        let copy = try run("skopeo", ["copy", "--src-tls-verify=false", "docker://\(registry.host)/ml/sklearn:3", "oci:\(out.file("skopeo")):x"])
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(try KilnBinary.run(["diff", "oci:\(out.file("layout")):v1", "oci:\(out.file("skopeo")):x"]).stdout == "no differences\n")
        let again = try KilnBinary.run(["push", "oci:\(out.file("layout")):v1", "\(registry.host)/ml/sklearn:3", "--tag", "3", "--tag", "latest"])
        #expect(again.stdout.contains("uploaded 0, mounted 0, present 3"), "\(again.stdout)\(again.stderr)")
        let tags = try run("skopeo", ["list-tags", "--tls-verify=false", "docker://\(registry.host)/ml/sklearn"])
        #expect(tags.stdout.contains("\"latest\"") && tags.stdout.contains("\"3\""))
    }

    @Test func pullsWhatSkopeoPushedInBothFormats() throws {
        let registry = try TestRegistry()
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        let built = try buildImage(fixture, into: out.file("layout"))
        for (format, repository) in [("oci", "fmt/oci"), ("v2s2", "fmt/docker")] {
            let copy = try run("skopeo", ["copy", "--dest-tls-verify=false", "--format", format,
                                          "oci:\(out.file("layout")):v1", "docker://\(registry.host)/\(repository):1"])
            #expect(copy.status == 0, "\(copy.stderr)")
            let pull = try KilnBinary.run(["pull", "\(registry.host)/\(repository):1", "oci:\(out.file("pulled-\(format)")):1"])
            #expect(pull.status == 0, "\(pull.stderr)")
            let diff = try KilnBinary.run(["diff", "oci:\(out.file("layout")):v1", "oci:\(out.file("pulled-\(format)")):1"])
            #expect(diff.stdout == "no differences\n", "\(format): \(diff.stdout)")
            let validate = try run("oci-image-tool", ["validate", "--type", "image", "--ref", "name=1", out.file("pulled-\(format)")])
            #expect(format == "v2s2" || validate.status == 0, "\(validate.stdout)")
        }
        let byDigest = try KilnBinary.run(["pull", "\(registry.host)/fmt/oci@\(built.manifestDigest)", "oci:\(out.file("by-digest")):d"])
        #expect(byDigest.status == 0, "\(byDigest.stderr)")
    }

    @Test func buildsOnARegistryBaseAndPushesTheResult() throws {
        let registry = try TestRegistry()
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        let base = try KilnBinary.build(["--base", "scratch", "--add", "\(fixture.root.file("code")):/opt/base", "--env", "BASE=1",
                                   "--output", "\(registry.host)/base/python:1"])
        let derived = try KilnBinary.build(fixture.standardArguments.map { $0 == "scratch" ? "\(registry.host)/base/python:1" : $0 }
                                     + ["--output", "\(registry.host)/ml/derived:2"])
        #expect(derived.layers.first?.digest == base.layers.first?.digest)
        let inspect = try run("skopeo", ["inspect", "--tls-verify=false", "docker://\(registry.host)/ml/derived:2"])
        #expect(inspect.stdout.contains("BASE=1"))
        #expect(try JSONDecoder().decode(SkopeoInspect.self, from: Data(inspect.stdout.utf8)).Digest == derived.manifestDigest)
        _ = out
    }

    @Test func htpasswdNeedsCredentialsAndNeverPrintsThem() throws {
        let password = "pw-\(UUID().uuidString)"
        let registry = try TestRegistry(.htpasswd(user: "ci-bot", password: password))
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        let built = try buildImage(fixture, into: out.file("layout"))
        let anonymous = try KilnBinary.run(["push", "oci:\(out.file("layout")):v1", "\(registry.host)/private/app:1"], environment: ["KILN_REGISTRY_USERNAME": ""])
        #expect(anonymous.status != 0)
        #expect(anonymous.stderr.hasPrefix("kiln: error: authentication to \(registry.host) failed"), "\(anonymous.stderr)")
        #expect(anonymous.stderr.split(separator: "\n").count == 1)

        let wrong = try TestSupport.run(KilnBinary.binary, ["push", "oci:\(out.file("layout")):v1", "\(registry.host)/private/app:1",
                                                      "--username", "ci-bot", "--password-stdin"], stdin: "not-the-password\n")
        #expect(wrong.status != 0)
        #expect(!wrong.stderr.contains("not-the-password"))

        let flags = try TestSupport.run(KilnBinary.binary, ["push", "oci:\(out.file("layout")):v1", "\(registry.host)/private/app:1",
                                                      "--username", "ci-bot", "--password-stdin"], stdin: password + "\n")
        #expect(flags.status == 0, "\(flags.stderr)")
        let environment = ["KILN_REGISTRY_USERNAME": "ci-bot", "KILN_REGISTRY_PASSWORD": password]
        let pull = try KilnBinary.run(["pull", "\(registry.host)/private/app:1", "oci:\(out.file("pulled")):1"], environment: environment)
        #expect(pull.status == 0, "\(pull.stderr)")
        let skopeo = try run("skopeo", ["inspect", "--tls-verify=false", "--creds", "ci-bot:\(password)", "docker://\(registry.host)/private/app:1"])
        #expect(try JSONDecoder().decode(SkopeoInspect.self, from: Data(skopeo.stdout.utf8)).Digest == built.manifestDigest)
        let copy = try run("skopeo", ["copy", "--src-tls-verify=false", "--src-creds", "ci-bot:\(password)",
                                      "docker://\(registry.host)/private/app:1", "oci:\(out.file("skopeo")):x"])
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(try KilnBinary.run(["diff", "oci:\(out.file("layout")):v1", "oci:\(out.file("skopeo")):x"]).stdout == "no differences\n")
        for result in [anonymous, wrong, flags, pull] {
            #expect(!result.stdout.contains(password) && !result.stderr.contains(password))
        }
        let refusedFlag = try KilnBinary.run(["push", "oci:\(out.file("layout")):v1", "\(registry.host)/private/app:1", "--username", "ci-bot"])
        #expect(refusedFlag.stderr.contains("--username needs --password-stdin"))
    }

    @Test func corruptBlobIsRejectedAndNothingIsWritten() throws {
        let registry = try TestRegistry()
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        let built = try buildImage(fixture, into: out.file("layout"))
        #expect(try KilnBinary.run(["push", "oci:\(out.file("layout")):v1", "\(registry.host)/ml/app:1"]).status == 0)
        let victim = try #require(built.layers.first?.digest.split(separator: ":").last.map(String.init))
        let path = registry.blobDataPath(hex: victim)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0xff
        try bytes.write(to: URL(fileURLWithPath: path))
        let pull = try KilnBinary.run(["pull", "\(registry.host)/ml/app:1", "oci:\(out.file("pulled")):1"])
        #expect(pull.status != 0)
        #expect(pull.stderr.contains("does not match the expected sha256:\(victim)"), "\(pull.stderr)")
        #expect(pull.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: out.file("pulled")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path) == ["layout"])
    }

    @Test func missingImageAndUnreachableRegistry() throws {
        let registry = try TestRegistry()
        let out = try TemporaryDirectory("out")
        let missing = try KilnBinary.run(["pull", "\(registry.host)/no/such:1", "oci:\(out.file("x"))"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("not found: manifest"))
        let port = try freePort()
        let unreachable = try KilnBinary.run(["pull", "127.0.0.1:\(port)/a/b:1", "oci:\(out.file("y"))"])
        #expect(unreachable.status != 0)
        #expect(unreachable.stderr.hasPrefix("kiln: error: cannot reach http://127.0.0.1:\(port)/v2/a/b/manifests/1"), "\(unreachable.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).isEmpty)
    }
}

@Suite(.serialized) struct RegistryFaultTests {
    @Test func retriesA503ThenSucceeds() throws {
        let registry = try TestRegistry()
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        _ = try KilnBinary.build(fixture.standardArguments + ["--output", "oci:\(out.file("layout")):v1"])
        #expect(try KilnBinary.run(["push", "oci:\(out.file("layout")):v1", "\(registry.host)/ml/app:1"]).status == 0)
        let proxy = try FlakyProxy(to: registry, marker: "/manifests/", status: 503, count: 2)
        let host = proxy.host
        let pull = try KilnBinary.run(["pull", "\(host)/ml/app:1", "oci:\(out.file("pulled")):1"])
        #expect(pull.status == 0, "\(pull.stderr)")
        #expect(try KilnBinary.run(["diff", "oci:\(out.file("layout")):v1", "oci:\(out.file("pulled")):1"]).stdout == "no differences\n")
    }

    @Test func persistentServerErrorFailsCleanly() throws {
        let registry = try TestRegistry()
        let out = try TemporaryDirectory("out")
        let proxy = try FlakyProxy(to: registry, marker: "/manifests/", status: 500, count: 100)
        let host = proxy.host
        let pull = try KilnBinary.run(["pull", "\(host)/ml/app:1", "oci:\(out.file("pulled")):1"])
        #expect(pull.status != 0)
        #expect(pull.stderr.hasPrefix("kiln: error: registry answered 500 to GET http://\(host)/v2/ml/app/manifests/1"), "\(pull.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).isEmpty)
    }
}
