import Plan

/// Where AzureML puts a registered model: `/var/azureml-app/azureml-models/NAME/VERSION/`, keeping the
/// model file's or folder's own name below it, with `AZUREML_MODEL_DIR` pointing at that directory.
public struct ModelSpec: Sendable, Equatable {
    /// The registered model's name: letters, digits, `-`, `_` or `.`.
    public var name: String
    /// The model's version, with the same characters as `name`.
    public var version: String
    /// The model file or folder on the build machine.
    public var path: String

    /// Parses `NAME:VERSION=PATH`.
    public init(parsing text: String) throws {
        guard let equals = text.firstIndex(of: "="), let colon = text[..<equals].firstIndex(of: ":") else {
            throw AzureMLError.model("'\(text)': expected NAME:VERSION=PATH")
        }
        name = String(text[..<colon])
        version = String(text[text.index(after: colon)..<equals])
        path = String(text[text.index(after: equals)...])
        let allowed = { (c: Character) in c.isLetter || c.isNumber || c == "-" || c == "_" || c == "." }
        guard !name.isEmpty, name.allSatisfy(allowed), name != ".", name != ".." else {
            throw AzureMLError.model("'\(text)': model name must be letters, digits, '-', '_' or '.'")
        }
        guard !version.isEmpty, version.allSatisfy(allowed), version != ".", version != ".." else {
            throw AzureMLError.model("'\(text)': model version must be letters, digits, '-', '_' or '.'")
        }
        guard !path.isEmpty else { throw AzureMLError.model("'\(text)': missing PATH") }
    }

    /// `text` with every character a model name cannot hold replaced by `-`: a folder's name as a model name.
    static func safeName(_ text: String) -> String {
        let name = String(text.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "-" })
        return name == "." || name == ".." || name.isEmpty ? "model" : name
    }

    /// The model's directory in the image, `<modelsRoot>/NAME/VERSION`.
    public var directoryInImage: String { "\(AzureMLLayout.modelsRoot)/\(name)/\(version)" }

    /// Adds the model's layer and AZUREML_MODEL_DIR to `plan`.
    public func apply(to plan: inout BuildPlan) {
        let base = path.split(separator: "/").last.map(String.init) ?? path
        plan.layers.append(LayerSpec(kind: .model, description: "model \(name):\(version)",
                                     inputs: [LayerInput(source: path, destination: "\(directoryInImage)/\(base)")]))
        plan.config.setEnv(AzureMLLayout.modelDirectoryVariable, directoryInImage)
    }
}
