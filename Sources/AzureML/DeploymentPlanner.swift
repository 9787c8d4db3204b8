import Foundation
import Plan
import Yams

/// The v2 front ends: a managed online deployment YAML, or an environment YAML alone, into a plan.
///
/// A deployment with `code_configuration` is a scoring image: the code under the app root and the
/// inference server on the scoring script. One whose environment has `inference_config` routes is a
/// custom container: its base is the server, so Kiln adds none; the model goes under
/// `model_mount_path`, the liveness route becomes the health check, and every route a label.
public enum DeploymentPlanner {
    static let keys: Set<String> = ["$schema", "name", "endpoint_name", "description", "tags", "properties", "model", "model_mount_path",
                                    "code_configuration", "environment", "environment_variables", "liveness_probe", "readiness_probe",
                                    "instance_type", "instance_count", "scale_settings", "request_settings", "app_insights_enabled",
                                    "egress_public_network_access", "data_collector", "type", "resources", "private_network_connection"]
    /// Settings of the endpoint's machines, not of the image: read, and named in a note.
    static let deploymentOnly: Set<String> = ["endpoint_name", "properties", "instance_type", "instance_count", "scale_settings",
                                              "request_settings", "app_insights_enabled", "egress_public_network_access", "data_collector",
                                              "type", "resources", "private_network_connection"]

    /// Applies the deployment at `path` to `plan`.
    public static func deployment(_ path: String, to plan: BuildPlan, options: FrontEndOptions) throws -> FrontEndResult {
        let document = try YAMLDocument(path: path, what: "deployment")
        let directory = (path as NSString).deletingLastPathComponent
        let fields = try document.keys(of: document.root, known: keys, in: "deployment")
        var plan = plan
        var notes: [String] = []
        let ignored = fields.keys.filter(deploymentOnly.contains).sorted()
        if !ignored.isEmpty { notes.append("\(path): \(ignored.joined(separator: ", ")) configure the endpoint, not the image") }

        guard let environmentNode = fields["environment"] else { throw document.error(at: nil, "environment is required") }
        let environment = try environment(environmentNode, in: document, directory: directory)
        var inputs = [("config", path)] + environment.asset.inputs
        if let file = environment.file { inputs.insert(("environment-asset", file), at: 1) }

        let code = try fields["code_configuration"].map { node -> ScoringCode in
            let codeFields = try document.keys(of: try document.mapping(node, "code_configuration") ?? [:], known: ["code", "scoring_script"],
                                               in: "code_configuration")
            guard let script = try document.string(codeFields["scoring_script"], "scoring_script") else {
                throw document.error(at: node, "code_configuration needs scoring_script")
            }
            let code = try document.string(codeFields["code"], "code")
            if code?.hasPrefix("azureml:") == true { throw document.error(at: codeFields["code"], "code '\(code ?? "")' must be a local folder") }
            return try ScoringCode(codeDirectory: code, script: script, baseDirectory: directory, file: path, fields: ("code", "scoring_script"))
        }
        code?.apply(to: &plan)
        let routes = environment.asset.routes
        let base = try environment.asset.apply(to: &plan, options: options, scoring: code != nil && routes == nil,
                                                file: environment.file ?? path)

        let mountPath = try document.string(fields["model_mount_path"], "model_mount_path")
        if let mountPath, !mountPath.hasPrefix("/") || mountPath.split(separator: "/").contains("..") {
            throw document.error(at: fields["model_mount_path"], "model_mount_path '\(mountPath)' must be an absolute path without '..'")
        }
        if let node = fields["model"] {
            notes += try model(node, in: document, directory: directory, mountPath: mountPath, scoringScript: code != nil, to: &plan)
        }
        if !environment.asset.metadataKeys.isEmpty {
            notes.append("\(environment.file ?? path): environment \(environment.asset.metadataKeys.joined(separator: ", ")) describe the registered asset, not the image")
        }

        for (key, value) in try document.stringMap(fields["environment_variables"], "environment_variables") {
            let variable = try EnvVar(parsing: "\(key)=\(value)")
            plan.config.setEnv(variable.key, variable.value)
        }
        let liveness = try probe(fields["liveness_probe"], "liveness_probe", in: document)
        let readiness = try probe(fields["readiness_probe"], "readiness_probe", in: document)
        if let routes {
            let check = (routes.liveness ?? routes.readiness).map(Routes.shellCheck)
            routes.apply(to: &plan, probe: liveness ?? readiness, healthcheck: check)
        } else if let code, options.serve {
            ScoringServer.apply(code, to: &plan, base: base?.entry, probe: liveness ?? readiness)
        }
        for (key, value) in try document.stringMap(fields["tags"], "tags") { plan.config.labels[key] = value }
        try Provenance.apply(inputs: inputs, title: try document.string(fields["name"], "name"),
                             description: try document.string(fields["description"], "description"), to: &plan)
        return FrontEndResult(plan: plan, baseCredentials: nil, base: base?.entry, notes: notes)
    }

    /// Applies an environment YAML alone: the derived image AzureML builds for training and inference.
    public static func environment(_ path: String, to plan: BuildPlan, options: FrontEndOptions) throws -> FrontEndResult {
        var plan = plan
        let asset = try EnvironmentAsset.load(path)
        let base = try asset.apply(to: &plan, options: options, scoring: false, file: path)
        if let routes = asset.routes {
            routes.apply(to: &plan, probe: nil, healthcheck: (routes.liveness ?? routes.readiness).map(Routes.shellCheck))
        }
        try Provenance.apply(inputs: [("config", path)] + asset.inputs, title: asset.name, description: asset.description, to: &plan)
        let notes = asset.metadataKeys.isEmpty ? [] : ["\(path): \(asset.metadataKeys.joined(separator: ", ")) describe the registered asset, not the image"]
        return FrontEndResult(plan: plan, baseCredentials: nil, base: base?.entry, notes: notes)
    }

    /// `environment:` inline, or a path to an environment YAML; `azureml:` references cannot be read here.
    static func environment(_ node: Node, in document: YAMLDocument, directory: String) throws -> (asset: EnvironmentAsset, file: String?) {
        if case .scalar = node, let text = try document.string(node, "environment") {
            if text.hasPrefix("azureml:") {
                throw document.error(at: node, "environment '\(text)' is a registered AzureML asset; give it inline (image, conda_file) or as a path to its YAML")
            }
            let file = text.hasPrefix("/") ? text : URL(fileURLWithPath: directory).appendingPathComponent(text).standardizedFileURL.path
            return (try EnvironmentAsset.load(file), file)
        }
        guard let mapping = try document.mapping(node, "environment") else { throw document.error(at: node, "environment is empty") }
        return (try EnvironmentAsset(mapping, in: document, directory: directory), nil)
    }

    /// `model:` as `{name, version, path}` or a local path; registered models (`azureml:`) are refused.
    /// Returns notes on the model's keys that describe the registered model rather than the image.
    static func model(_ node: Node, in document: YAMLDocument, directory: String, mountPath: String?, scoringScript: Bool,
                      to plan: inout BuildPlan) throws -> [String] {
        var notes: [String] = []
        var name: String?
        var version: String?
        var local: String?
        if case .scalar = node {
            local = try document.string(node, "model")
        } else if let mapping = try document.mapping(node, "model") {
            let fields = try document.keys(of: mapping, known: ["name", "version", "path", "type", "description", "tags", "properties"], in: "model")
            name = try document.string(fields["name"], "model.name")
            version = try document.string(fields["version"], "model.version")
            local = try document.string(fields["path"], "model.path")
            if local == nil { throw document.error(at: node, "model needs a local path (Kiln cannot download registered models)") }
            let type = try document.string(fields["type"], "model.type")
            if type == "mlflow_model", !scoringScript {
                throw document.error(at: fields["type"], "model type mlflow_model without code_configuration needs the scoring script AzureML generates, which Kiln does not; give code_configuration with a scoring script")
            }
            let metadata = fields.keys.filter { ["type", "description", "tags", "properties"].contains($0) }.sorted()
            if !metadata.isEmpty { notes.append("\(document.path): model \(metadata.joined(separator: ", ")) describe the registered model, not the image") }
        }
        guard let local else { return notes }
        if local.hasPrefix("azureml:") || local.contains("://") {
            throw document.error(at: node, "model '\(local)' is not local; download it first (az ml model download) and give its path")
        }
        let source = local.hasPrefix("/") ? local : URL(fileURLWithPath: directory).appendingPathComponent(local).standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: source) else { throw AzureMLError.missingFile("model", source) }
        let folder = URL(fileURLWithPath: source).lastPathComponent
        if let mountPath {
            plan.layers.append(LayerSpec(kind: .model, description: "model \(folder) at \(mountPath)",
                                         inputs: [LayerInput(source: source, destination: "\(mountPath)/\(folder)")]))
            plan.config.setEnv(AzureMLLayout.modelDirectoryVariable, mountPath)
        } else {
            let spec = try ModelSpec(parsing: "\(name ?? ModelSpec.safeName(folder)):\(version ?? "1")=\(source)")
            spec.apply(to: &plan)
        }
        return notes
    }

    static func probe(_ node: Node?, _ field: String, in document: YAMLDocument) throws -> HealthProbe? {
        guard let mapping = try document.mapping(node, field) else { return nil }
        let fields = try document.keys(of: mapping, known: ["initial_delay", "period", "timeout", "failure_threshold", "success_threshold"], in: field)
        return HealthProbe(initialDelay: try document.int(fields["initial_delay"], "\(field).initial_delay"),
                     period: try document.int(fields["period"], "\(field).period"),
                     timeout: try document.int(fields["timeout"], "\(field).timeout"),
                     failureThreshold: try document.int(fields["failure_threshold"], "\(field).failure_threshold"),
                     successThreshold: try document.int(fields["success_threshold"], "\(field).success_threshold"))
    }
}
