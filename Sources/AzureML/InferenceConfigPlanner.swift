import Foundation
import OCI
import Plan

/// Translates an inference config into build-plan changes, the way AzureML lays out a v1 scoring image:
/// the code under `/var/azureml-app`, the entry script named by `AZUREML_ENTRY_SCRIPT` (relative to
/// `AML_APP_ROOT`), models under `/var/azureml-app/azureml-models/NAME/VERSION/`, and the inference
/// server started on the entry script.
public enum InferenceConfigPlanner {
    /// Applies `config` (read from `path`) to `plan`. Relative paths are relative to the config file.
    public static func apply(_ config: InferenceConfig, path: String, to plan: BuildPlan, options: FrontEndOptions) throws -> FrontEndResult {
        var plan = plan
        var notes: [String] = []
        if let runtime = config.runtime, runtime.lowercased() != "python" {
            throw AzureMLError.invalid(path, "runtime '\(runtime)' is not supported (only python)")
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        var inputs = [("config", path)]
        if let conda = config.condaFile, !conda.isEmpty {
            var environment = AzureMLLayout.environment(plan.environment ?? EnvironmentPlan())
            environment.environmentFile = URL(fileURLWithPath: conda, relativeTo: directory).standardizedFileURL.path
            plan.environment = environment
            inputs.append(("environment", environment.environmentFile ?? conda))
        }
        let code = try ScoringCode(codeDirectory: config.sourceDirectory, script: config.entryScript ?? "", baseDirectory: directory.path,
                                   file: path, fields: ("sourceDirectory", "entryScript"))
        code.apply(to: &plan)
        if let steps = config.extraDockerfileSteps, !steps.isEmpty {
            let stepsPath = URL(fileURLWithPath: steps, relativeTo: directory).standardizedFileURL.path
            let dockerfile = try Dockerfile.load(stepsPath)
            _ = try dockerfile.apply(to: &plan, context: directory.path, allowFrom: false)
            inputs.append(("dockerfile", stepsPath))
        }
        let gpu = config.enableGpu == true
        let registryHost = config.baseImageRegistry?.host
        let fromFile = config.baseImage.flatMap { $0.isEmpty ? nil : registryQualified($0, host: registryHost, catalogue: options.catalogue) }
        let base = try BaseChoice.choose(fromFile, options: options, scoring: true, gpu: gpu, file: path)
        if let base { base.apply(to: &plan, gpu: gpu, cudaVersion: config.cudaVersion) }
        if gpu, base?.entry == nil, options.base == nil, config.baseImage != nil {
            notes.append("enableGpu: the base \(config.baseImage ?? "") is not in the catalogue, so it is taken to be a GPU image as it is")
        }
        if options.serve {
            ScoringServer.apply(code, to: &plan, base: base?.entry, probe: nil)
        }
        for (key, value) in (config.tags ?? [:]) { plan.config.labels[key] = value }
        try Provenance.apply(inputs: inputs, title: nil, description: config.description, to: &plan)
        return FrontEndResult(plan: plan, baseCredentials: config.baseImageRegistry, base: base?.entry, notes: notes)
    }

    /// `baseImage` may omit its registry when `baseImageRegistry.address` names it; a catalogue name
    /// stays as it is.
    static func registryQualified(_ image: String, host: String?, catalogue: BaseCatalogue?) -> String {
        guard let host, catalogue?.bases[image] == nil else { return image }
        return image.hasPrefix(host + "/") ? image : "\(host)/\(image)"
    }
}
