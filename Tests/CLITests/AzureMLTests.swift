import AzureML
import Kiln
import Foundation
import Testing
import TestSupport

@Suite struct AzureMLTests {
    @Test func placesCodeAndEntryScriptUnderAppRoot() throws {
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        _ = try KilnBinary.build(fixture.standardArguments + ["--output", "oci:\(out.file("img"))"])
        let inspect = try KilnBinary.run(["inspect", "--files", "oci:\(out.file("img"))"])
        #expect(inspect.status == 0)
        for path in ["/var/azureml-app/code/score.py", "/var/azureml-app/code/utils/helpers.py",
                     "/var/azureml-app/azureml-models/sklearn/3/sklearn_model/model.pkl"] {
            #expect(inspect.stdout.contains(" \(path) "), "\(path)")
        }
        #expect(inspect.stdout.contains("/var/azureml-app/code/utils/current.py -> helpers.py"))
        #expect(inspect.stdout.contains("AZUREML_ENTRY_SCRIPT=code/score.py"))
        #expect(inspect.stdout.contains("AML_APP_ROOT=/var/azureml-app"))
        #expect(inspect.stdout.contains(#""org.opencontainers.image.description" : "sklearn regression""#))
        #expect(inspect.stdout.contains(#""5001/tcp" : {"#))
    }

    @Test(arguments: [
        (#"{"entryScript": "score.py", "condaFile": "env.yml"}"#, "environment not found"),
        (#"{"entryScript": "score.py", "extraDockerfileSteps": "steps.txt"}"#, "Dockerfile not found"),
        (#"{"entryScript": "score.py", "runtime": "spark-py"}"#, "runtime 'spark-py' is not supported"),
        (#"{"runtime": "python"}"#, "entryScript is required"),
        (#"{"entryScript": "missing.py"}"#, "entryScript not found"),
        (#"{"entryScript": "../score.py", "sourceDirectory": "code"}"#, "outside sourceDirectory"),
    ])
    func refusesWhatItCannotHonour(_ json: String, _ message: String) throws {
        let fixture = try Fixture()
        try fixture.root.write("score.py", "x")
        try fixture.root.write("inferenceconfig.json", json)
        let out = try TemporaryDirectory("out")
        let result = try KilnBinary.run(["build", "--base", "scratch", "--inference-config", fixture.root.file("inferenceconfig.json"),
                                   "--output", "oci:\(out.file("img"))"])
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: out.file("img")))
    }

    @Test func baseImageComesFromItsRegistryWithTheConfigsCredentials() throws {
        let password = "s3cr3t-Password-\(UUID().uuidString)"
        let registry = try TestRegistry(.htpasswd(user: "sp-user", password: password))
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        _ = try KilnBinary.build(["--base", "scratch", "--add", "\(fixture.root.file("code")):/opt/base", "--env", "FROM_BASE=yes",
                            "--output", "oci:\(out.file("base")):1"])
        let push = try TestSupport.run(KilnBinary.binary, ["push", "oci:\(out.file("base")):1", "\(registry.host)/azureml/minimal:latest",
                                                     "--username", "sp-user", "--password-stdin"], stdin: password)
        #expect(push.status == 0, "\(push.stderr)")
        try fixture.root.write("inferenceconfig.json", """
        {"entryScript": "score.py", "sourceDirectory": "code", "baseImage": "azureml/minimal:latest",
         "baseImageRegistry": {"address": "http://\(registry.host)/", "username": "sp-user", "password": "\(password)"}}
        """)
        let result = try KilnBinary.run(["build", "--no-server", "--inference-config", fixture.root.file("inferenceconfig.json"),
                                   "--output", "oci:\(out.file("img"))", "--json"], environment: ["KILN_REGISTRY_USERNAME": ""])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stdout.contains(password) && !result.stderr.contains(password))
        let inspect = try KilnBinary.run(["inspect", "oci:\(out.file("img"))"])
        #expect(inspect.stdout.contains("FROM_BASE=yes"))
        let grep = try run("sh", ["-c", "for f in \(out.file("img"))/blobs/sha256/*; do zcat -f \"$f\"; done | grep -a -c -e \(password) -e sp-user"])
        #expect(grep.stdout == "0\n")
        // Without the config's credentials the registry refuses, and says so in one line.
        try fixture.root.write("inferenceconfig.json", """
        {"entryScript": "score.py", "sourceDirectory": "code", "baseImage": "\(registry.host)/azureml/minimal:latest"}
        """)
        let refused = try KilnBinary.run(["build", "--no-server", "--inference-config", fixture.root.file("inferenceconfig.json"),
                                    "--output", "oci:\(out.file("img2"))"], environment: ["KILN_REGISTRY_USERNAME": ""])
        #expect(refused.status != 0)
        #expect(refused.stderr.hasPrefix("kiln: error: authentication to \(registry.host) failed"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.file("img2")))
    }

    @Test func credentialsNeverReachTheImage() throws {
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        _ = try KilnBinary.build(fixture.standardArguments + ["--output", "oci:\(out.file("img"))"])
        _ = try KilnBinary.build(fixture.standardArguments + ["--output", "docker-archive:\(out.file("img.tar"))"])
        // Search every blob, decompressed, and the archive for the password and the username.
        let grep = try run("sh", ["-c", "for f in \(out.file("img"))/blobs/sha256/*; do zcat -f \"$f\"; done | grep -a -c -e s3cr3t -e sp-user; tar -xOf \(out.file("img.tar")) | grep -a -c -e s3cr3t -e sp-user"])
        #expect(grep.stdout == "0\n0\n")
        #expect(String(describing: try InferenceConfig.load(fixture.root.file("inferenceconfig.json")).baseImageRegistry).contains("<redacted>"))
        #expect(!String(describing: try InferenceConfig.load(fixture.root.file("inferenceconfig.json"))).contains("s3cr3t"))
    }
}
