import OCI
import Plan
import Testing

/// The one location model: every form parses once, prints back as written, and bad forms are refused by name.
@Suite struct ImageLocationTests {
    @Test(arguments: ["scratch", "oci:out/image", "oci:out/image:v1", "docker-archive:image.tar",
                      "docker-archive:image.tar:docker.io/ml/app:1", "registry.example:5000/ml/app:1",
                      "myacr.azurecr.io/team/model@sha256:\(String(repeating: "a", count: 64))"])
    func parsesAndPrintsBack(_ text: String) throws {
        let location = try ImageLocation(parsing: text)
        #expect(try ImageLocation(parsing: location.description) == location)
    }

    @Test func kindsAndPaths() throws {
        #expect(try ImageLocation(parsing: "oci:dir:tag") == .layout(path: "dir", tag: "tag"))
        #expect(try ImageLocation(parsing: "docker-archive:f.tar:ml/app").description == "docker-archive:f.tar:ml/app:latest")
        #expect(try ImageLocation(parsing: "oci:données/模型").path == "données/模型")
        guard case let .registry(reference) = try ImageLocation(parsing: "localhost:5000/a/b") else { Issue.record("not a registry"); return }
        #expect(reference.registry == "localhost:5000" && reference.repository == "a/b")
    }

    @Test(arguments: [("oci:", "missing directory"), ("docker-archive:", "missing file"), ("oci:x:bad tag", "must match"),
                      ("/abs/path", "expected scratch"), ("./rel", "expected scratch"), ("docker-archive:f.tar:a/b@sha256:\(String(repeating: "b", count: 64))", "a tag, not a digest")])
    func refusesBadForms(_ text: String, _ message: String) {
        let error = #expect(throws: PlanError.self) { try ImageLocation(parsing: text) }
        #expect("\(error.map { "\($0)" } ?? "")".contains(message))
        #expect(!"\(error.map { "\($0)" } ?? "")".contains("--"), "library errors name no flag")
    }
}

@Suite struct PlanValueTests {
    @Test func envVarsAndPrefixRule() throws {
        #expect(try EnvVar(parsing: "A_1=x=y") == EnvVar(key: "A_1", value: "x=y"))
        #expect(throws: PlanError.self) { try EnvVar(parsing: "1A=x") }
        var environment = EnvironmentPlan()
        environment.prefixTemplate = "/azureml-envs/azureml_{hash}"
        #expect(environment.resolvedPrefix(hash: "abc") == "/azureml-envs/azureml_abc")
        environment.prefix = "/opt/env"
        #expect(environment.resolvedPrefix(hash: "abc") == "/opt/env")
    }

    @Test func layersOrderFromEnvironmentToCode() {
        var plan = BuildPlan()
        let kinds: [LayerSpec.Kind] = [.code, .files, .model, .environment, .model]
        plan.layers = kinds.enumerated().map { LayerSpec(kind: $0.element, description: "\($0.offset)", inputs: []) }
        #expect(plan.orderedLayers.map(\.description) == ["3", "2", "4", "1", "0"])
    }
}
