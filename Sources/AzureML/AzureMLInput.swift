import Foundation
import Plan

/// A user's AzureML file, recognised by name and by content, so that `kiln build PATH` needs no flag
/// to say what PATH is.
public enum AzureMLInput: Sendable, Equatable {
    /// A v1 `inferenceconfig.json`.
    case inferenceConfig(String)
    /// A v2 managed online deployment YAML.
    case deployment(String)
    /// A v2 environment YAML.
    case environment(String)

    /// The file's path.
    public var path: String {
        switch self {
        case let .inferenceConfig(path), let .deployment(path), let .environment(path): return path
        }
    }

    /// Recognises `path`: a file, or a directory holding exactly one deployment, or else one inference
    /// config, or else one environment YAML.
    public static func detect(_ path: String) throws -> AzureMLInput {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw AzureMLError.missingFile("input", path) }
        guard isDirectory.boolValue else {
            guard let kind = kind(of: path) else {
                throw AzureMLError.invalid(path, "not an AzureML inference config (JSON with entryScript), deployment YAML (model, code_configuration, environment) or environment YAML (image, build or conda_file)")
            }
            return kind
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
        let found = names.filter { $0.hasSuffix(".json") || $0.hasSuffix(".yml") || $0.hasSuffix(".yaml") }
            .compactMap { kind(of: path + "/" + $0) }
        for wanted in ["deployment", "inference config", "environment"] {
            let matches = found.filter { $0.kindName == wanted }
            if matches.count > 1 {
                throw AzureMLError.invalid(path, "holds several \(wanted) files (\(matches.map { ($0.path as NSString).lastPathComponent }.joined(separator: ", "))); name one")
            }
            if let match = matches.first { return match }
        }
        throw AzureMLError.invalid(path, "holds no inferenceconfig.json, deployment YAML or environment YAML")
    }

    var kindName: String {
        switch self {
        case .inferenceConfig: return "inference config"
        case .deployment: return "deployment"
        case .environment: return "environment"
        }
    }

    /// By content: the `$schema` when there is one, else the keys only that kind of file has.
    static func kind(of path: String) -> AzureMLInput? {
        guard let data = FileManager.default.contents(atPath: path), data.count < YAMLDocument.maxBytes,
              let text = String(data: data, encoding: .utf8) else { return nil }
        if path.hasSuffix(".json") {
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], object["entryScript"] != nil else { return nil }
            return .inferenceConfig(path)
        }
        if text.contains("managedOnlineDeployment.schema") || text.contains("kubernetesOnlineDeployment.schema") { return .deployment(path) }
        if text.contains("environment.schema.json") { return .environment(path) }
        let keys = Set(text.split(separator: "\n").compactMap { line -> String? in
            guard let first = line.first, first.isLetter || first == "$" || first == "_", let colon = line.firstIndex(of: ":") else { return nil }
            return String(line[..<colon])
        })
        if !keys.isDisjoint(with: ["model", "code_configuration", "endpoint_name", "model_mount_path"]) { return .deployment(path) }
        if !keys.isDisjoint(with: ["image", "build", "conda_file"]), !keys.contains("dependencies") { return .environment(path) }
        return nil
    }

    /// The plan for this input, over `plan` (which holds what the command line set first).
    public func plan(over plan: BuildPlan, options: FrontEndOptions) throws -> FrontEndResult {
        switch self {
        case let .inferenceConfig(path):
            return try InferenceConfigPlanner.apply(try InferenceConfig.load(path), path: path, to: plan, options: options)
        case let .deployment(path):
            return try DeploymentPlanner.deployment(path, to: plan, options: options)
        case let .environment(path):
            return try DeploymentPlanner.environment(path, to: plan, options: options)
        }
    }
}
