import Foundation
import Plan

/// The scoring code of an AzureML image: a code folder (or the lone entry script) under the app root,
/// and the entry script named relative to it, as both the v1 config and the v2 deployment describe it.
struct ScoringCode {
    /// The code layer.
    var layer: LayerSpec
    /// The entry script relative to the app root, the value of `AZUREML_ENTRY_SCRIPT`: `src/score.py`.
    var entryScript: String

    /// The entry script's absolute path in the image.
    var entryScriptInImage: String { "\(AzureMLLayout.appRoot)/\(entryScript)" }

    /// `script` relative to `codeDirectory` when there is one, else relative to `baseDirectory` (the
    /// file that names them). `file` names that file in errors; `fields` names its two fields.
    init(codeDirectory: String?, script: String, baseDirectory: String, file: String, fields: (code: String, script: String)) throws {
        func resolve(_ relative: String) -> String {
            relative.hasPrefix("/") ? relative : URL(fileURLWithPath: baseDirectory).appendingPathComponent(relative).standardizedFileURL.path
        }
        guard !script.isEmpty else { throw AzureMLError.invalid(file, "\(fields.script) is required") }
        if let code = codeDirectory, !code.isEmpty {
            let source = resolve(code)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw AzureMLError.missingFile(fields.code, source)
            }
            let name = URL(fileURLWithPath: source).lastPathComponent
            // AzureML takes the script relative to the code folder.
            let scriptPath = URL(fileURLWithPath: source).appendingPathComponent(script).standardizedFileURL.path
            guard scriptPath.hasPrefix(source + "/") else {
                throw AzureMLError.invalid(file, "\(fields.script) '\(script)' is outside \(fields.code)")
            }
            guard FileManager.default.fileExists(atPath: scriptPath) else { throw AzureMLError.missingFile(fields.script, scriptPath) }
            entryScript = "\(name)/\(scriptPath.dropFirst(source.count + 1))"
            layer = LayerSpec(kind: .code, description: "code \(entryScript)", inputs: [LayerInput(source: source, destination: "\(AzureMLLayout.appRoot)/\(name)")])
        } else {
            let scriptPath = resolve(script)
            guard FileManager.default.fileExists(atPath: scriptPath) else { throw AzureMLError.missingFile(fields.script, scriptPath) }
            let name = URL(fileURLWithPath: scriptPath).lastPathComponent
            layer = LayerSpec(kind: .code, description: "code \(name)", inputs: [LayerInput(source: scriptPath, destination: "\(AzureMLLayout.appRoot)/\(name)")])
            entryScript = name
        }
    }

    /// Adds the code layer and the variables that name it.
    func apply(to plan: inout BuildPlan) {
        plan.layers.append(layer)
        plan.config.setEnv(AzureMLLayout.appRootVariable, AzureMLLayout.appRoot)
        plan.config.setEnv(AzureMLLayout.entryScriptVariable, entryScript)
    }
}
