import Foundation
import Plan
import Yams

/// An AzureML v2 environment (`environment.yml` with `$schema: …/environment.schema.json`, or the inline
/// `environment:` of a deployment): a base `image` or a Docker `build` context, a `conda_file`, and the
/// `inference_config` routes of a custom container. AzureML builds it into the "derived" image that both
/// training and inference use, with the conda environment at `/azureml-envs/azureml_<hash>`.
public struct EnvironmentAsset: Sendable, Equatable {
    public var name: String?
    public var version: String?
    public var description: String?
    public var image: String?
    /// A conda environment file, absolute.
    public var condaFile: String?
    /// The Docker build context, absolute, and the Dockerfile in it.
    public var buildContext: String?
    public var dockerfile: String?
    /// The routes of a custom container's server.
    public var routes: Routes?
    public var tags: [(String, String)] = []
    /// Registry metadata keys the file has (`properties`, `datastore`, …): read, not part of an image.
    public var metadataKeys: [String] = []

    public static func == (a: EnvironmentAsset, b: EnvironmentAsset) -> Bool {
        a.name == b.name && a.version == b.version && a.image == b.image && a.condaFile == b.condaFile
            && a.buildContext == b.buildContext && a.dockerfile == b.dockerfile && a.routes == b.routes
    }

    static let keys: Set<String> = ["$schema", "name", "version", "description", "image", "conda_file", "build", "inference_config",
                                    "tags", "os_type", "properties", "datastore", "intellectual_property", "stage"]

    /// Reads an environment YAML file.
    public static func load(_ path: String) throws -> EnvironmentAsset {
        let document = try YAMLDocument(path: path, what: "environment")
        return try EnvironmentAsset(document.root, in: document, directory: (path as NSString).deletingLastPathComponent)
    }

    /// Reads an environment mapping of `document`; relative paths are relative to `directory`.
    init(_ mapping: Node.Mapping, in document: YAMLDocument, directory: String) throws {
        let fields = try document.keys(of: mapping, known: Self.keys, in: "environment")
        func path(_ text: String) -> String {
            text.hasPrefix("/") ? text : URL(fileURLWithPath: directory).appendingPathComponent(text).standardizedFileURL.path
        }
        name = try document.string(fields["name"], "name")
        version = try document.string(fields["version"], "version")
        description = try document.string(fields["description"], "description")
        image = try document.string(fields["image"], "image")
        if let os = try document.string(fields["os_type"], "os_type"), os.lowercased() != "linux" {
            throw document.error(at: fields["os_type"], "os_type '\(os)' is not supported (only linux)")
        }
        if let conda = try document.string(fields["conda_file"], "conda_file") {
            condaFile = path(conda)
            guard FileManager.default.fileExists(atPath: path(conda)) else { throw AzureMLError.missingFile("conda_file", path(conda)) }
        }
        if fields["image"] != nil, fields["build"] != nil {
            throw document.error(at: fields["build"], "give either image or build, not both")
        }
        if let build = try document.mapping(fields["build"], "build") {
            let buildFields = try document.keys(of: build, known: ["path", "dockerfile_path"], in: "build")
            guard let context = try document.string(buildFields["path"], "build.path") else {
                throw document.error(at: fields["build"], "build needs a path (the Docker build context)")
            }
            if context.hasPrefix("azureml:") || context.contains("://") {
                throw document.error(at: buildFields["path"], "build.path '\(context)' must be a local folder (Kiln reads no remote build contexts)")
            }
            buildContext = path(context)
            dockerfile = (buildContext ?? "") + "/" + (try document.string(buildFields["dockerfile_path"], "build.dockerfile_path") ?? "Dockerfile")
            guard FileManager.default.fileExists(atPath: dockerfile ?? "") else { throw AzureMLError.missingFile("build Dockerfile", dockerfile ?? "") }
        }
        if let routes = try document.mapping(fields["inference_config"], "inference_config") {
            let routeFields = try document.keys(of: routes, known: ["liveness_route", "readiness_route", "scoring_route"], in: "inference_config")
            func route(_ key: String) throws -> Route? {
                guard let node = try document.mapping(routeFields[key], key) else { return nil }
                let parts = try document.keys(of: node, known: ["port", "path"], in: key)
                guard let port = try document.int(parts["port"], "\(key).port"), (1...65535).contains(port) else {
                    throw document.error(at: routeFields[key], "\(key) needs a port between 1 and 65535")
                }
                return Route(port: port, path: try document.string(parts["path"], "\(key).path") ?? "/")
            }
            self.routes = Routes(liveness: try route("liveness_route"), readiness: try route("readiness_route"), scoring: try route("scoring_route"))
        }
        tags = try document.stringMap(fields["tags"], "tags")
        metadataKeys = fields.keys.filter { ["properties", "datastore", "intellectual_property", "stage"].contains($0) }.sorted()
    }

    /// Applies the environment to `plan`: its base (the command line's wins), its conda environment in
    /// AzureML's layout, and its Dockerfile's steps. Returns the chosen base.
    func apply(to plan: inout BuildPlan, options: FrontEndOptions, scoring: Bool, file: String) throws -> BaseChoice? {
        if let condaFile {
            var environment = AzureMLLayout.environment(plan.environment ?? EnvironmentPlan())
            environment.environmentFile = condaFile
            plan.environment = environment
        }
        var fromFile = image
        if let dockerfile, let buildContext {
            let steps = try Dockerfile.load(dockerfile)
            if let from = try steps.apply(to: &plan, context: buildContext, allowFrom: true) { fromFile = from }
        }
        if image?.hasPrefix("azureml:") == true {
            throw AzureMLError.invalid(file, "image '\(image ?? "")' is a registered AzureML asset; name the image itself")
        }
        let base = try BaseChoice.choose(fromFile, options: options, scoring: scoring, gpu: false, file: file)
        if let base { base.apply(to: &plan, gpu: false, cudaVersion: nil) }
        for (key, value) in tags { plan.config.labels[key] = value }
        return base
    }

    /// The input files, for provenance labels.
    var inputs: [(String, String)] {
        [("environment", condaFile), ("dockerfile", dockerfile)].compactMap { role, path in path.map { (role, $0) } }
    }
}
