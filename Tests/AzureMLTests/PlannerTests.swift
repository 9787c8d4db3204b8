import AzureML
import Foundation
import Plan
import Testing
import TestSupport

/// AzureML's rules, checked on the plan they produce.
@Suite struct PlannerTests {
    @Test func entryScriptWithoutSourceDirectory() throws {
        let directory = try TemporaryDirectory()
        try directory.write("score.py", "def run(x): return x\n")
        try directory.write("ic.json", #"{"entryScript": "score.py", "runtime": "python"}"#)
        let plan = try InferenceConfigPlanner.apply(InferenceConfig.load(directory.file("ic.json")), path: directory.file("ic.json"),
                                                    to: BuildPlan(), options: FrontEndOptions(base: "scratch", serve: false)).plan
        #expect(plan.layers.first?.inputs.first?.destination == "/var/azureml-app/score.py")
        #expect(plan.config.env.contains(EnvVar(key: "AZUREML_ENTRY_SCRIPT", value: "score.py")))
        #expect(plan.config.env.contains(EnvVar(key: "AML_APP_ROOT", value: "/var/azureml-app")))
    }

    @Test func condaFileGetsAzureMLsPrefixRule() throws {
        let directory = try TemporaryDirectory()
        try directory.write("score.py", "def run(x): return x\n")
        try directory.write("ic.json", #"{"entryScript": "score.py", "condaFile": "env.yml", "baseImage": "mcr.microsoft.com/azureml/minimal-ubuntu22.04-py39-cpu-inference:latest"}"#)
        try directory.write("env.yml", "dependencies: [python=3.11]\n")
        let plan = try InferenceConfigPlanner.apply(InferenceConfig.load(directory.file("ic.json")), path: directory.file("ic.json"),
                                                    to: BuildPlan(), options: FrontEndOptions()).plan
        #expect(plan.environment?.resolvedPrefix(hash: "h") == "/azureml-envs/azureml_h")
        #expect(plan.environment?.prefixVariable == "AZUREML_CONDA_ENVIRONMENT_PATH")
        #expect(plan.environment?.environmentFile == directory.file("env.yml"))
        guard case let .registry(reference) = plan.base else { Issue.record("base is not a registry image"); return }
        #expect(reference.registry == "mcr.microsoft.com")
    }

    @Test func modelsAndNumbering() throws {
        var plan = BuildPlan()
        let models = try ["a:1=/m/a", "b:2=/m/b.onnx"].map(ModelSpec.init(parsing:))
        for model in models { model.apply(to: &plan) }
        AzureMLLayout.finishModels(models.count, in: &plan)
        #expect(plan.layers.map { $0.inputs[0].destination } == ["/var/azureml-app/azureml-models/a/1/a", "/var/azureml-app/azureml-models/b/2/b.onnx"])
        #expect(plan.config.env.last == EnvVar(key: "AZUREML_MODEL_DIR", value: "/var/azureml-app/azureml-models"))
        #expect(throws: AzureMLError.self) { try ModelSpec(parsing: "a=/x") }
        #expect(ImageNumbering.nextTag(after: ["latest", "3", "10", "v2", "٣"]) == "11")
        #expect(ImageNumbering.nextTag(after: []) == "1")
    }
}
