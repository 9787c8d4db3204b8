import AzureML
import Kiln

/// Builds a scoring image from a model folder and a scoring script into an OCI layout: the example in
/// Kiln's README, "Using Kiln as a library".
public func buildScoringImage(model: String, script: String, layout: String) async throws -> BuildResult {
    var plan = BuildPlan()
    plan.platform = Platform(os: "linux", architecture: "amd64")
    try ModelSpec(parsing: "churn:3=\(model)").apply(to: &plan)
    plan.layers.append(LayerSpec(kind: .code, description: "code score.py",
                                 inputs: [LayerInput(source: script, destination: "/var/azureml-app/score.py")]))
    plan.config.setEnv("AZUREML_ENTRY_SCRIPT", "score.py")
    plan.config.labels["org.example.team"] = "ml"
    return try await Kiln.build(plan, to: .layout(path: layout, tag: "1"))
}
