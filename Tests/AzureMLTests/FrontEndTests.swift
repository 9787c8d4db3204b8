import AzureML
import Foundation
import OCI
import Plan
import Testing
import TestSupport

/// The v1 and v2 front ends, checked on the plans they make from real-shaped AzureML files.
@Suite struct FrontEndTests {
    /// A folder with a model, scoring code and a conda file, as the AzureML examples lay them out.
    static func project() throws -> TemporaryDirectory {
        let root = try TemporaryDirectory("azureml")
        try root.write("model/sklearn_regression_model.pkl", "weights")
        try root.write("onlinescoring/score.py", "def init():\n    pass\n\ndef run(raw):\n    return raw\n")
        try root.write("environment/conda.yaml", "name: model-env\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - scikit-learn\n")
        return root
    }

    static let catalogue: BaseCatalogue? = try? BaseCatalogue(directory: fixturePath("../base-images"), cache: "/nonexistent-cache")

    @Test func seedsInferenceConfigIsAccepted() throws {
        let root = try Self.project()
        try root.write("inferenceconfig.json", """
        {"entryScript": "score.py", "runtime": "python", "sourceDirectory": "onlinescoring", "condaFile": "environment/conda.yaml",
         "baseImage": "azureml/openmpi4.1.0-ubuntu20.04", "baseImageRegistry": "mcr.microsoft.com", "enableGpu": false,
         "extraDockerfileSteps": null, "description": "diabetes", "cudaVersion": null}
        """)
        let result = try AzureMLInput.detect(root.file("inferenceconfig.json")).plan(over: BuildPlan(), options: FrontEndOptions())
        #expect(result.plan.base.description == "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04")
        #expect(result.plan.config.entrypoint == ["azmlinfsrv", "--entry_script", "/var/azureml-app/onlinescoring/score.py", "--port", "5001"])
        #expect(result.plan.config.exposedPorts == ["5001/tcp"])
        #expect(result.plan.config.healthcheck?.test?.first == "CMD")
        #expect(result.plan.config.labels["org.kiln.route.scoring"] == "5001:/score")
        #expect(result.plan.config.labels["org.opencontainers.image.description"] == "diabetes")
        #expect(result.plan.config.labels["org.kiln.input.config"]?.hasPrefix("sha256:") == true)
        #expect(result.plan.environment?.addedRequirements.map(\.line) == ["azureml-inference-server-http"])
        #expect(result.plan.environment?.resolvedPrefix(hash: "h") == "/azureml-envs/azureml_h")
    }

    @Test func registryObjectCredentialsStayOutOfThePlan() throws {
        let root = try Self.project()
        try root.write("ic.json", """
        {"entryScript": "onlinescoring/score.py", "baseImage": "team/base:1",
         "baseImageRegistry": {"address": "https://myacr.azurecr.io/", "username": "sp-id", "password": "s3cr3t-pw"}}
        """)
        let result = try InferenceConfigPlanner.apply(try InferenceConfig.load(root.file("ic.json")), path: root.file("ic.json"),
                                                      to: BuildPlan(), options: FrontEndOptions())
        #expect(result.plan.base.description == "myacr.azurecr.io/team/base:1")
        #expect(result.baseCredentials?.password == "s3cr3t-pw")
        #expect(!String(describing: result.plan).contains("s3cr3t-pw"))
        #expect(!String(describing: result).contains("s3cr3t-pw"))
    }

    @Test func gpuPicksTheCatalogueVariantAndCuda() throws {
        let catalogue = try #require(Self.catalogue)
        let cpu = try #require(catalogue.bases.values.sorted { $0.name < $1.name }.first { $0.gpuVariant != nil && $0.reference != nil })
        let root = try Self.project()
        try root.write("ic.json", """
        {"entryScript": "onlinescoring/score.py", "condaFile": "environment/conda.yaml", "baseImage": "\(cpu.name)", "enableGpu": true, "cudaVersion": "12.1"}
        """)
        let result = try InferenceConfigPlanner.apply(try InferenceConfig.load(root.file("ic.json")), path: root.file("ic.json"),
                                                      to: BuildPlan(), options: FrontEndOptions(catalogue: catalogue))
        let gpu = try #require(catalogue.bases[cpu.gpuVariant ?? ""])
        #expect(result.plan.base == (try ImageLocation(parsing: gpu.reference ?? "")))
        #expect(result.plan.environment?.virtualPackages == ["__cuda=12.1"])
        #expect(result.base?.name == gpu.name)
    }

    @Test func scoringDeployment() throws {
        let root = try Self.project()
        try root.write("deployment.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
        name: blue
        endpoint_name: diabetes-endpoint
        model:
          name: diabetes
          version: 4
          path: model
          type: custom_model
        code_configuration:
          code: onlinescoring
          scoring_script: score.py
        environment:
          conda_file: environment/conda.yaml
          image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest
        environment_variables:
          WORKERS: 2
          GREETING: "grüezi"
        liveness_probe:
          initial_delay: 10
          period: 5
          timeout: 2
          failure_threshold: 30
        instance_type: Standard_DS3_v2
        instance_count: 1
        tags:
          team: ml
        """)
        let result = try AzureMLInput.detect(root.path).plan(over: BuildPlan(), options: FrontEndOptions())
        let plan = result.plan
        #expect(plan.layers.map { $0.inputs[0].destination }.sorted() == ["/var/azureml-app/azureml-models/diabetes/4/model", "/var/azureml-app/onlinescoring"])
        #expect(plan.config.env.contains(EnvVar(key: "AZUREML_MODEL_DIR", value: "/var/azureml-app/azureml-models/diabetes/4")))
        #expect(plan.config.env.contains(EnvVar(key: "WORKERS", value: "2")) && plan.config.env.contains(EnvVar(key: "GREETING", value: "grüezi")))
        #expect(plan.config.entrypoint?.contains("/var/azureml-app/onlinescoring/score.py") == true)
        #expect(plan.config.healthcheck?.interval == 5_000_000_000 && plan.config.healthcheck?.retries == 30)
        #expect(plan.config.labels["team"] == "ml" && plan.config.labels["org.opencontainers.image.title"] == "blue")
        #expect(result.notes.contains { $0.contains("instance_count, instance_type") })
        #expect(result.notes.contains { $0.contains("model type describe the registered model") }, "\(result.notes)")
    }

    @Test func customContainerDeployment() throws {
        let root = try Self.project()
        try root.write("half_plus_two/1/saved_model.pb", "graph")
        try root.write("tfserving.yml", """
        name: tfserving-deployment
        endpoint_name: tfserving-endpoint
        model:
          name: tfserving-mounted
          version: 1
          path: ./half_plus_two
        model_mount_path: /var/tfserving-model-mount
        environment_variables:
          MODEL_BASE_PATH: /var/tfserving-model-mount/half_plus_two
          MODEL_NAME: half_plus_two
        environment:
          image: docker.io/tensorflow/serving:latest
          inference_config:
            liveness_route:
              port: 8501
              path: /v1/models/half_plus_two
            readiness_route:
              port: 8501
              path: /v1/models/half_plus_two
            scoring_route:
              port: 8501
              path: /v1/models/half_plus_two:predict
        instance_type: Standard_DS3_v2
        instance_count: 1
        """)
        let result = try AzureMLInput.detect(root.file("tfserving.yml")).plan(over: BuildPlan(), options: FrontEndOptions())
        let plan = result.plan
        #expect(plan.base.description == "docker.io/tensorflow/serving:latest")
        #expect(plan.layers.map { $0.inputs[0].destination } == ["/var/tfserving-model-mount/half_plus_two"])
        #expect(plan.config.env.contains(EnvVar(key: "AZUREML_MODEL_DIR", value: "/var/tfserving-model-mount")))
        #expect(plan.config.labels["org.kiln.route.liveness"] == "8501:/v1/models/half_plus_two")
        #expect(plan.config.labels["org.kiln.route.scoring"] == "8501:/v1/models/half_plus_two:predict")
        #expect(plan.config.healthcheck?.test?.first == "CMD-SHELL")
        #expect(plan.config.entrypoint == nil, "the base is the server")
        #expect(plan.environment == nil)
    }

    @Test func environmentAloneIsTheDerivedImage() throws {
        let root = try Self.project()
        try root.write("env.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json
        name: sklearn-env
        image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:20230620.v1
        conda_file: environment/conda.yaml
        description: training and inference
        """)
        let result = try AzureMLInput.detect(root.file("env.yml")).plan(over: BuildPlan(), options: FrontEndOptions())
        #expect(result.plan.environment?.environmentFile == root.file("environment/conda.yaml"))
        #expect(result.plan.environment?.prefixTemplate == "/azureml-envs/azureml_{hash}")
        #expect(result.plan.config.entrypoint == nil && result.plan.environment?.addedRequirements.isEmpty == true)
        #expect(result.plan.config.labels["org.opencontainers.image.title"] == "sklearn-env")
    }

    @Test func commandLineBaseWins() throws {
        let root = try Self.project()
        try root.write("env.yml", "image: ubuntu:22.04\nconda_file: environment/conda.yaml\n")
        let result = try DeploymentPlanner.environment(root.file("env.yml"), to: BuildPlan(), options: FrontEndOptions(base: "oci:/tmp/x:1"))
        #expect(result.plan.base == .layout(path: "/tmp/x", tag: "1"))
    }

    /// Each broken input names the file, and the line where YAML has one.
    @Test(arguments: [
        ("deployment.yml", "model: {path: model}\nmodel_mount_path: models\nenvironment: {image: ubuntu}\n", "model_mount_path 'models' must be an absolute path"),
        ("deployment.yml", "model: {path: model}\ncode_configuration: {code: onlinescoring, scoring_script: missing.py}\nenvironment: {image: ubuntu}\n", "scoring_script not found"),
        ("deployment.yml", "model: azureml:diabetes:4\nenvironment: {image: ubuntu}\n", "is not local"),
        ("deployment.yml", "model: {path: model}\nenvironment: azureml:sklearn-env:1\n", "registered AzureML asset"),
        ("deployment.yml", "model: {path: model}\nenvironment: {image: ubuntu}\ninstance_typo: big\n", "line 3: unknown key 'instance_typo'"),
        ("deployment.yml", "model: {path: model}\nenvironment: {image: ubuntu, build: {path: .}}\n", "either image or build"),
        ("deployment.yml", "model: {path: model}\nenvironment:\n  image: x\n  inference_config: {liveness_route: {port: 70000, path: /}}\n", "port between 1 and 65535"),
        ("deployment.yml", "model: {path: model\nenvironment: [\n", "malformed"),
        ("deployment.yml", "model: {path: model}\nenvironment: {image: ubuntu, os_type: windows}\n", "os_type 'windows'"),
        ("deployment.yml", "model: {path: model}\n", "environment is required"),
        ("deployment.yml", "model: {path: model, type: mlflow_model}\nenvironment: {image: ubuntu}\n", "mlflow_model without code_configuration"),
        ("env.yml", "image: ubuntu\nconda_file: nowhere.yml\n", "conda_file not found"),
        ("ic.json", #"{"entryScript": "onlinescoring/score.py", "entryScrpit": "x"}"#, "unknown key 'entryScrpit'"),
        ("ic.json", #"{"entryScript": "onlinescoring/score.py", "environment": {"name": "x"}}"#, "'environment' object is not supported"),
        ("ic.json", #"{"entryScript": "nothere.py"}"#, "entryScript not found"),
        ("ic.json", #"{"entryScript": "onlinescoring/score.py", "runtime": "spark-py"}"#, "runtime 'spark-py'"),
    ])
    func brokenInputs(name: String, text: String, message: String) throws {
        let root = try Self.project()
        try root.write(name, text)
        let error = #expect(throws: AzureMLError.self) {
            try AzureMLInput.detect(root.file(name)).plan(over: BuildPlan(), options: FrontEndOptions(base: "scratch"))
        }
        let description = error.map { String(describing: $0) } ?? ""
        #expect(description.contains(message), "\(description)")
        #expect(!description.contains("\n"))
    }

    /// A billion-laughs document: a few lines, 10⁹ nodes if walked; refused within the node budget.
    @Test func aliasBombIsBounded() throws {
        let root = try Self.project()
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 { text += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n" }
        text += "environment: {image: ubuntu}\nenvironment_variables:\n  BOMB: *a9\n"
        try root.write("deployment.yml", text)
        let error = #expect(throws: AzureMLError.self) {
            try DeploymentPlanner.deployment(root.file("deployment.yml"), to: BuildPlan(), options: FrontEndOptions(base: "scratch"))
        }
        #expect(error.map { String(describing: $0) }?.contains("unknown key 'a0'") == true)
        // As a known key's value, the bomb is refused when it is read, not expanded.
        try root.write("deployment.yml", text.replacingOccurrences(of: "a0: &a0", with: "tags: &a0").replacingOccurrences(of: "*a0", with: "*a0"))
        #expect(throws: AzureMLError.self) {
            try DeploymentPlanner.deployment(root.file("deployment.yml"), to: BuildPlan(), options: FrontEndOptions(base: "scratch"))
        }
    }

    /// No base named: a scoring image gets AzureML's scoring base from the catalogue, never scratch.
    @Test func scoringImageDefaultsToTheCataloguesScoringBase() throws {
        let catalogue = try #require(Self.catalogue)
        let fallback = try #require(catalogue.scoringDefault)
        let root = try Self.project()
        try root.write("ic.json", #"{"entryScript": "onlinescoring/score.py"}"#)
        let result = try AzureMLInput.detect(root.file("ic.json")).plan(over: BuildPlan(), options: FrontEndOptions(catalogue: catalogue))
        #expect(result.plan.base == (try ImageLocation(parsing: fallback.reference ?? "")))
        #expect(result.base?.name == "azureml-minimal-cpu")
        // Without a catalogue there is nothing to fall back on: a clear error, not scratch.
        #expect(throws: AzureMLError.self) { try AzureMLInput.detect(root.file("ic.json")).plan(over: BuildPlan(), options: FrontEndOptions()) }
        // Layers only (no server): no base is needed.
        let layers = try AzureMLInput.detect(root.file("ic.json")).plan(over: BuildPlan(), options: FrontEndOptions(serve: false))
        #expect(layers.plan.base == .scratch && layers.plan.environment == nil)
    }

    @Test func directoryWithTwoDeploymentsIsAmbiguous() throws {
        let root = try Self.project()
        for name in ["blue.yml", "green.yml"] { try root.write(name, "model: {path: model}\nenvironment: {image: ubuntu}\n") }
        #expect(throws: AzureMLError.self) { try AzureMLInput.detect(root.path) }
    }

    @Test func catalogueHasTheSeedsBases() throws {
        let catalogue = try #require(Self.catalogue)
        for name in ["ubuntu-miniconda", "onnxruntime", "onnxruntime-cuda", "onnxruntime-tensorrt", "debian-python"] {
            #expect(catalogue.bases[name] != nil, "\(name)")
        }
        #expect(catalogue.bases.values.filter { $0.scoringDefault == true }.count == 1)
        // A locally built base that is not built yet says how to build it.
        let local = try #require(catalogue.bases["debian-python"])
        let error = #expect(throws: AzureMLError.self) { try catalogue.location(of: local) }
        #expect(error.map { String(describing: $0) }?.contains("base-images/debian-python.sh") == true)
    }
}

/// Provenance labels come from the inputs alone: their hashes, and git's HEAD and origin read from `.git`.
@Suite struct ProvenanceTests {
    @Test func gitCheckoutGivesSourceAndRevisionWithoutCredentials() throws {
        let root = try TemporaryDirectory("checkout")
        let revision = String(repeating: "ab", count: 20)
        try root.write(".git/HEAD", "ref: refs/heads/main\n")
        try root.write(".git/packed-refs", "# pack-refs with: peeled fully-peeled sorted\n\(revision) refs/heads/main\n")
        try root.write(".git/config", "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = https://bot:ghp_s3cr3t@github.com/team/model.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n")
        try root.write("deploy/ic.json", "{}")
        var plan = BuildPlan()
        plan.sourceDateEpoch = 1_700_000_000
        try Provenance.apply(inputs: [("config", root.file("deploy/ic.json"))], title: "blue", description: nil, to: &plan)
        #expect(plan.config.labels["org.opencontainers.image.revision"] == revision)
        #expect(plan.config.labels["org.opencontainers.image.source"] == "https://github.com/team/model.git")
        #expect(plan.config.labels["org.opencontainers.image.created"] == "2023-11-14T22:13:20Z")
        #expect(plan.config.labels["org.kiln.input.config"] == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
        #expect(!plan.config.labels.values.contains { $0.contains("s3cr3t") })
        // A loose ref wins over packed-refs, as git reads them.
        try root.write(".git/refs/heads/main", String(repeating: "cd", count: 20) + "\n")
        var again = BuildPlan()
        try Provenance.apply(inputs: [("config", root.file("deploy/ic.json"))], title: nil, description: nil, to: &again)
        #expect(again.config.labels["org.opencontainers.image.revision"] == String(repeating: "cd", count: 20))
    }
}
