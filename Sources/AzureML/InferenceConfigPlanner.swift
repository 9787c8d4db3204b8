import Foundation
import OCI
import Plan

/// Translates an inference config into build-plan changes, the way AzureML lays out a v1 scoring image:
/// the code under `/var/azureml-app`, the entry script named by `AZUREML_ENTRY_SCRIPT` (relative to
/// `AML_APP_ROOT`), and models under `/var/azureml-app/azureml-models/NAME/VERSION/`.
public enum InferenceConfigPlanner {
    /// Applies `config` (read from `path`) to `plan`. Relative paths are relative to the config file.
    /// `baseOverridden` means the user chose a base on the command line, which wins over `baseImage`.
    public static func apply(_ config: InferenceConfig, path: String, to plan: inout BuildPlan, baseOverridden: Bool) throws {
        if let runtime = config.runtime, runtime.lowercased() != "python" {
            throw AzureMLError.invalid(path, "runtime '\(runtime)' is not supported (only python)")
        }
        if let conda = config.condaFile, !conda.isEmpty {
            var environment = AzureMLLayout.environment(plan.environment ?? EnvironmentPlan())
            environment.environmentFile = URL(fileURLWithPath: conda, relativeTo: URL(fileURLWithPath: path).deletingLastPathComponent()).standardizedFileURL.path
            plan.environment = environment
        }
        if let steps = config.extraDockerfileSteps, !steps.isEmpty {
            throw PlanError.notSupported("extraDockerfileSteps '\(steps)' in \(path): Kiln runs no Dockerfile steps")
        }
        if !baseOverridden {
            if let image = config.baseImage, !image.isEmpty {
                let name = registryQualified(image, host: config.baseImageRegistry?.host)
                plan.base = try ImageLocation(parsing: name)
            } else if config.enableGpu == true {
                throw PlanError.notSupported("enableGpu without baseImage (the AzureML default GPU base comes from a registry); name a base image")
            }
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        func resolve(_ relative: String, against base: URL) -> String {
            relative.hasPrefix("/") ? relative : base.appendingPathComponent(relative).standardizedFileURL.path
        }

        guard let entryScript = config.entryScript, !entryScript.isEmpty else {
            throw AzureMLError.invalid(path, "entryScript is required")
        }
        var code: [LayerInput] = []
        let entryInImage: String
        if let source = config.sourceDirectory, !source.isEmpty {
            let sourcePath = resolve(source, against: directory)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: sourcePath, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw AzureMLError.missingFile("sourceDirectory", sourcePath)
            }
            let name = URL(fileURLWithPath: sourcePath).lastPathComponent
            // AzureML takes entryScript relative to sourceDirectory.
            let script = URL(fileURLWithPath: sourcePath).appendingPathComponent(entryScript).standardizedFileURL.path
            guard script.hasPrefix(sourcePath + "/") else {
                throw AzureMLError.invalid(path, "entryScript '\(entryScript)' is outside sourceDirectory")
            }
            guard FileManager.default.fileExists(atPath: script) else { throw AzureMLError.missingFile("entryScript", script) }
            code.append(LayerInput(source: sourcePath, destination: "\(AzureMLLayout.appRoot)/\(name)"))
            entryInImage = "\(name)/\(script.dropFirst(sourcePath.count + 1))"
        } else {
            let script = resolve(entryScript, against: directory)
            guard FileManager.default.fileExists(atPath: script) else { throw AzureMLError.missingFile("entryScript", script) }
            let name = URL(fileURLWithPath: script).lastPathComponent
            code.append(LayerInput(source: script, destination: "\(AzureMLLayout.appRoot)/\(name)"))
            entryInImage = name
        }
        plan.layers.append(LayerSpec(kind: .code, description: "code \(entryInImage)", inputs: code))
        plan.config.setEnv(AzureMLLayout.appRootVariable, AzureMLLayout.appRoot)
        plan.config.setEnv(AzureMLLayout.entryScriptVariable, entryInImage)
        if let description = config.description, !description.isEmpty {
            plan.config.labels["org.opencontainers.image.description"] = description
        }
    }

    /// `baseImage` may omit its registry when `baseImageRegistry.address` names it.
    static func registryQualified(_ image: String, host: String?) -> String {
        guard let host else { return image }
        return image.hasPrefix(host + "/") ? image : "\(host)/\(image)"
    }
}
