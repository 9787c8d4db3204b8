import Foundation
import Testing
import TestSupport

/// AzureML end to end: the user's files → `kiln build` → a push to a real registry → `kiln run` under
/// runc → the inference server answers `/score` with the host model's predictions.
///
/// Real pieces only: the base is Debian bookworm's python (debootstrap, base-images/debian-python.sh),
/// the wheels are the real ones from PyPI served on loopback, the model is trained here on the diabetes
/// data set that scikit-learn ships, and the server is PyPI's azureml-inference-server-http.
@Suite(.serialized) struct ServingTests {
    /// The fixture copied into a temporary folder, with the trained model in `model/`.
    struct Project {
        let root: TemporaryDirectory
        let trained: String
        let index: PipIndex

        init() throws {
            let wheels = try mlWheels()
            trained = try Trained.shared.get()
            index = try PipIndex(directories: [wheels])
            root = try TemporaryDirectory("serving")
            for name in ["code", "environment", "inferenceconfig.json", "deployment.yml", "deployment-conda.yml"] {
                try FileManager.default.copyItem(atPath: fixturePath("sklearn-diabetes/\(name)"), toPath: root.file(name))
            }
            try FileManager.default.copyItem(atPath: trained + "/model", toPath: root.file("model"))
        }

        var expected: [Double] {
            get throws { try JSONDecoder().decode([Double].self, from: Data(contentsOf: URL(fileURLWithPath: trained + "/expected.json"))) }
        }

        /// `kiln run IMAGE --request request.json`; the server's answer, decoded.
        func score(_ image: String) throws -> [Double] {
            let result = try KilnBinary.run(["run", image, "--request", trained + "/request.json", "--timeout", "180"])
            #expect(result.status == 0, "\(result.stderr)")
            guard let body = result.stdout.split(separator: "\n").last else { return [] }
            return try JSONDecoder().decode([Double].self, from: Data(body.utf8))
        }

        /// `kiln sbom IMAGE`: an SPDX document that spdx-tools validates and whose packages are exactly the
        /// image's conda-meta records and dist-info directories.
        func expectSBOMListsTheEnvironment(_ image: String) throws -> Data {
            let sbom = try KilnBinary.run(["sbom", image])
            #expect(sbom.status == 0, "\(sbom.stderr)")
            let file = root.file("sbom.spdx.json")
            try root.write("sbom.spdx.json", sbom.stdout)
            let validated = try run(URL(fileURLWithPath: try peerPython()).deletingLastPathComponent().appendingPathComponent("pyspdxtools").path, ["-i", file])
            #expect(validated.status == 0 && validated.stdout.isEmpty && validated.stderr.isEmpty, "\(validated.stdout)\(validated.stderr)")
            struct Document: Decodable {
                struct Package: Decodable { var SPDXID: String; var name: String; var versionInfo: String?; var licenseDeclared: String? }
                var packages: [Package]
            }
            let document = try JSONDecoder().decode(Document.self, from: Data(sbom.stdout.utf8))
            let listed = document.packages.filter { $0.SPDXID.hasPrefix("SPDXRef-conda-") || $0.SPDXID.hasPrefix("SPDXRef-pypi-") }
                .map { "\($0.SPDXID.hasPrefix("SPDXRef-conda-") ? "conda" : "pypi") \($0.name.lowercased().replacingOccurrences(of: "_", with: "-")) \($0.versionInfo ?? "")" }
            // The licence is read from the wheel's METADATA at install, also for a package big enough for a layer of
            // its own (its dist-info once moved away before the SBOM looked for it: NOASSERTION).
            let sklearn = try #require(document.packages.first { $0.SPDXID.hasPrefix("SPDXRef-pypi-scikit-learn-") })
            #expect(sklearn.licenseDeclared.map { $0 != "NOASSERTION" } == true, "\(sklearn.licenseDeclared ?? "-")")
            struct Inspection: Decodable { var files: [String] }
            let files = try JSONDecoder().decode(Inspection.self, from: Data(try KilnBinary.run(["inspect", "--files", image]).stdout.utf8)).files
            var installed: [String] = []
            for line in files {
                guard let path = line.split(separator: " ").first(where: { $0.hasPrefix("/") }) else { continue }
                if path.contains("/conda-meta/"), path.hasSuffix(".json"), let name = path.split(separator: "/").last {
                    let parts = name.dropLast(5).split(separator: "-")
                    installed.append("conda \(parts.dropLast(2).joined(separator: "-")) \(parts[parts.count - 2])")
                } else if path.hasSuffix(".dist-info/"), let distInfo = path.split(separator: "/").last {
                    let stem = distInfo.dropLast(".dist-info".count)
                    guard let dash = stem.lastIndex(of: "-") else { continue }
                    installed.append("pypi \(stem[..<dash].lowercased().replacingOccurrences(of: "_", with: "-")) \(stem[stem.index(after: dash)...])")
                }
            }
            // A conda package that is a python distribution (conda's pip) has a dist-info too: it is the conda record.
            let conda = Set(installed.filter { $0.hasPrefix("conda ") })
            installed.removeAll { $0.hasPrefix("pypi ") && conda.contains("conda " + $0.dropFirst(5)) }
            #expect(listed.sorted() == installed.sorted(), "\(Set(listed).symmetricDifference(installed))")
            #expect(installed.count > 40)
            return Data(sbom.stdout.utf8)
        }

        func expectSamePredictions(_ image: String) throws {
            let answer = try score(image)
            let expected = try self.expected
            #expect(answer.count == expected.count && expected.count == 3, "\(answer)")
            for (got, want) in zip(answer, expected) { #expect(abs(got - want) <= 1e-9, "\(got) vs \(want)") }
        }
    }

    /// Builds debian-python once per machine (cached by the script), trains the model once per machine.
    enum Trained {
        static let shared = Result { () throws -> String in
            let base = try run("/bin/bash", [fixturePath("../base-images/debian-python.sh")])
            guard base.status == 0 else { throw ToolMissing(name: "the debian-python base (\(base.stderr.suffix(400)))") }
            let cache = (ProcessInfo.processInfo.environment["HOME"] ?? NSTemporaryDirectory()) + "/.cache/kiln-tests/sklearn-diabetes"
            let trained = try run("/bin/bash", [fixturePath("sklearn-diabetes/prepare.sh"), try mlWheels(), cache],
                                  environment: ["KILN_UV": try uvPath()])
            guard trained.status == 0, let out = trained.stdout.split(separator: "\n").last else {
                throw ToolMissing(name: "the trained diabetes model (\(trained.stderr.suffix(400)))")
            }
            return String(out)
        }
    }

    @Test func v1InferenceConfigServesFromTheRegistry() throws {
        let project = try Project()
        let registry = try TestRegistry()
        let image = "\(registry.host)/diabetes/v1:1"
        // scripts/example.sh's command: the trained model, and the versions it was trained with.
        _ = try KilnBinary.build([project.root.file("inferenceconfig.json"), "--model", "diabetes:1=\(project.root.file("model"))",
                                  "--requirements", project.trained + "/requirements.txt", "--index-url", project.index.url(), "--output", image])
        try project.expectSamePredictions(image)
    }

    @Test func v2DeploymentServesAndAnEditRebuildsOnlyTheCode() throws {
        let project = try Project()
        let registry = try TestRegistry()
        let image = "\(registry.host)/diabetes/v2:1"
        let first = try KilnBinary.build([project.root.file("deployment.yml"), "--index-url", project.index.url(), "--output", image])
        try project.expectSamePredictions(image)
        let inspect = try KilnBinary.run(["inspect", image])
        #expect(inspect.stdout.contains("azmlinfsrv") && inspect.stdout.contains("5001/tcp"), "\(inspect.stdout)")
        // The SBOM: found through distribution 2.8.2's lack of a referrers API, by the sha256-<digest> tag;
        // the same image written to a layout carries the same bytes.
        let pushedSBOM = try project.expectSBOMListsTheEnvironment(image)
        #expect(try KilnBinary.run(["tags", "\(registry.host)/diabetes/v2"]).stdout.contains("sha256-\(first.manifestDigest.dropFirst(7))"))
        let layout = try TemporaryDirectory("layout")
        _ = try KilnBinary.build([project.root.file("deployment.yml"), "--index-url", project.index.url(), "--output", "oci:\(layout.file("img")):1"])
        #expect(try KilnBinary.run(["sbom", "oci:\(layout.file("img")):1"]).stdout == String(decoding: pushedSBOM, as: UTF8.self))

        // Edit score.py only: one new layer, and the push sends only it and the config.
        try project.root.write("code/score.py", (try String(contentsOfFile: project.root.file("code/score.py"), encoding: .utf8)) + "\n# edited\n")
        let before = registry.requests().count
        let second = try KilnBinary.build([project.root.file("deployment.yml"), "--index-url", project.index.url(), "--output", "\(registry.host)/diabetes/v2:2"])
        #expect(Array(second.layers.dropLast()).map(\.digest) == Array(first.layers.dropLast()).map(\.digest))
        #expect(second.layers.last?.digest != first.layers.last?.digest)
        let uploads = registry.requests().dropFirst(before).filter { $0.method == "PUT" && $0.path.contains("/blobs/uploads/") }
        #expect(uploads.count == 2, "the code layer and the config: \(uploads.map(\.path))")
    }

    @Test func condaEnvironmentInAzureMLsLayoutServes() throws {
        let project = try Project()
        let base = try TemporaryDirectory("channel")
        let layout = (ProcessInfo.processInfo.environment["KILN_BASE_CACHE"] ?? ((ProcessInfo.processInfo.environment["HOME"] ?? "") + "/.cache/kiln/base-images")) + "/debian-python"
        let channel = try run(try peerPython(), [fixturePath("sklearn-diabetes/make_python_channel.py"), layout, base.file("channel")])
        #expect(channel.status == 0, "\(channel.stderr)")
        let registry = try TestRegistry()
        let image = "\(registry.host)/diabetes/conda:1"
        _ = try KilnBinary.build([project.root.file("deployment-conda.yml"), "--channel", "file://\(base.file("channel"))",
                                  "--index-url", project.index.url(), "--output", image])
        let inspect = try KilnBinary.run(["inspect", image])
        #expect(inspect.stdout.contains("AZUREML_CONDA_ENVIRONMENT_PATH=/azureml-envs/azureml_"), "\(inspect.stdout)")
        try project.expectSamePredictions(image)
        _ = try project.expectSBOMListsTheEnvironment(image)
    }

    /// ACR-style: the base comes from a registry that needs the config's service principal, and the
    /// password ends up in no blob of the pushed image.
    @Test func baseRegistryPasswordIsInNoBlob() throws {
        let project = try Project()
        let password = "sp-Secret-\(UUID().uuidString)"
        let registry = try TestRegistry(.htpasswd(user: "sp-app-id", password: password))
        let layout = (ProcessInfo.processInfo.environment["HOME"] ?? "") + "/.cache/kiln/base-images/debian-python"
        let environment = ["KILN_REGISTRY_USERNAME": "sp-app-id", "KILN_REGISTRY_PASSWORD": password]
        let push = try KilnBinary.run(["push", "oci:\(layout):bookworm", "\(registry.host)/azureml/debian-python:bookworm"], environment: environment)
        #expect(push.status == 0, "\(push.stderr)")
        try project.root.write("inferenceconfig.json", """
        {"entryScript": "score.py", "sourceDirectory": "code", "condaFile": "environment/pip.yaml", "baseImage": "azureml/debian-python:bookworm",
         "baseImageRegistry": {"address": "\(registry.host)", "username": "sp-app-id", "password": "\(password)"}}
        """)
        let image = "\(registry.host)/diabetes/acr:1"
        let built = try KilnBinary.run(["build", project.root.file("inferenceconfig.json"), "--model", "diabetes:1=\(project.root.file("model"))",
                                        "--index-url", project.index.url(), "--output", image], environment: environment)
        #expect(built.status == 0, "\(built.stderr)")
        #expect(!built.stdout.contains(password) && !built.stderr.contains(password))
        let blobs = try run("sh", ["-c", "find \(registry.storage) -path '*blobs*' -name data | wc -l"])
        #expect((Int(blobs.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 5, "the registry holds the image's blobs")
        let grep = try run("sh", ["-c", "find \(registry.storage) -path '*blobs*' -name data -exec sh -c 'zcat -f \"$1\"' _ {} \\; | grep -a -c -e '\(password)'"])
        #expect(grep.stdout == "0\n", "the password is in a blob")
    }

    /// TF Serving's pattern with busybox httpd as the server: the base is the server, the model goes
    /// under model_mount_path, and kiln run reaches the liveness route, which serves a model file.
    @Test func customContainerServesItsLivenessRoute() throws {
        let root = try TemporaryDirectory("custom")
        try root.write("half_plus_two/1/saved_model.pb", "a saved model\n")
        let port = try freePort()
        _ = try KilnBinary.build(["--base", "scratch", "--add", "/usr/bin/busybox:/bin/busybox",
                                  "--entrypoint", #"["/bin/busybox","httpd","-f","-p","127.0.0.1:\#(port)","-h","/var/model-mount"]"#,
                                  "--output", "oci:\(root.file("server")):1"])
        try root.write("deployment.yml", """
        name: custom
        model:
          name: half_plus_two
          version: 1
          path: half_plus_two
        model_mount_path: /var/model-mount
        environment_variables:
          MODEL_NAME: half_plus_two
        environment:
          image: oci:\(root.file("server")):1
          inference_config:
            liveness_route: {port: \(port), path: /half_plus_two/1/saved_model.pb}
            readiness_route: {port: \(port), path: /half_plus_two/1/saved_model.pb}
            scoring_route: {port: \(port), path: /half_plus_two/1/saved_model.pb}
        """)
        _ = try KilnBinary.build([root.file("deployment.yml"), "--output", "oci:\(root.file("image")):1"])
        let inspect = try KilnBinary.run(["inspect", "oci:\(root.file("image")):1"])
        #expect(inspect.stdout.contains("org.kiln.route.liveness") && inspect.stdout.contains("MODEL_NAME=half_plus_two"), "\(inspect.stdout)")
        let ran = try KilnBinary.run(["run", "oci:\(root.file("image")):1", "--timeout", "30"])
        #expect(ran.status == 0, "\(ran.stderr)")
        #expect(ran.stdout.contains("200"), "\(ran.stdout)")
    }
}
