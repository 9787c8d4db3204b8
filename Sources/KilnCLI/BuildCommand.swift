import ArgumentParser
import Archive
import AzureML
import Build
import Conda
import Foundation
import OCI
import Registry

struct BuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build an image from a base, a model, code and files."
    )

    @Option(help: "Base image: REGISTRY/REPO[:TAG|@DIGEST], oci:DIR[:TAG] or scratch.")
    var base: String?

    @Option(name: .customLong("inference-config"), help: "An AzureML v1 inferenceconfig.json.")
    var inferenceConfig: String?

    @Option(help: "A model, NAME:VERSION=PATH; it goes to /var/azureml-app/azureml-models/NAME/VERSION/.")
    var model: [String] = []

    @Option(help: "Add host files, SRC:DEST (DEST absolute in the image). Repeatable.")
    var add: [String] = []

    @Option(help: "Set an environment variable, K=V. Repeatable.")
    var env: [String] = []

    @Option(help: "Entrypoint: a JSON array, or a command line split on spaces.")
    var entrypoint: String?

    @Option(help: "Cmd: a JSON array, or a command line split on spaces.")
    var cmd: String?

    @Option(help: "Working directory.")
    var workdir: String?

    @Option(help: "User to run as.")
    var user: String?

    @Option(help: "Expose a port, PORT[/tcp|udp|sctp]. Repeatable.")
    var expose: [String] = []

    @Option(help: "Set a label, K=V. Repeatable.")
    var label: [String] = []

    @Option(help: "Target platform, os/arch[/variant]; default: the base image's.")
    var platform: String?

    @Option(name: .customLong("conda-file"), help: "A conda environment.yml to install into the image (solved natively).")
    var condaFile: String?

    @Option(help: "Write the resolved conda environment to FILE (conda-lock v1) and FILE.explicit.txt (@EXPLICIT).")
    var lock: String?

    @Option(help: "Install exactly this conda lock (@EXPLICIT or conda-lock v1), without solving.")
    var locked: String?

    @Option(name: .customLong("env-prefix"), help: "Where the conda environment lives in the image (default /azureml-envs/azureml_<hash of the environment>).")
    var envPrefix: String?

    @Option(help: "A conda channel (name or URL), before the environment file's channels. Repeatable.")
    var channel: [String] = []

    @Option(name: .customLong("channel-alias"), help: "Where conda channel names point (default https://conda.anaconda.org).")
    var channelAlias: String?

    @Option(name: .customLong("virtual-package"), help: "Override a conda virtual package, __NAME=VERSION[=BUILD] (default: read from the base image). Repeatable.")
    var virtualPackage: [String] = []

    @Option(help: "Layer compression: gzip, zstd or none.")
    var compression: String = "gzip"

    @Option(help: "Output: oci:DIR[:TAG], docker-archive:FILE[:NAME:TAG], or REGISTRY/REPO[:TAG] to push.")
    var output: String

    @Option(help: "With a registry output: tag to push (repeatable; `auto` = the next integer tag); default: the output's tag.")
    var tag: [String] = []

    @Flag(help: "Print the manifest digest, config digest and layers as JSON.")
    var json = false

    @OptionGroup var registryOptions: RegistryOptions

    func run() async throws {
        let target = try OutputTarget(parsing: output)
        try RegistryOptions.validate(tags: tag)
        let config = try inferenceConfig.map(InferenceConfig.load)
        var plan = try makePlan(config: config)
        let store = try registryOptions.store(perRegistry: Self.baseCredentials(config))
        let image: Image
        if case let .registry(reference) = target {
            var outputStore = store
            outputStore.perRegistry = [:]   // baseImageRegistry credentials are for the base only
            image = try await withScratch { work in
                // Base layers stay in their registry: the push mounts them (same registry) or streams them.
                let base = try await resolveBase(plan, into: work, store: store)
                try await addEnvironment(&plan, base: base, work: work)
                let image = try ImageBuilder(workDirectory: work).build(plan, resolvedBase: base)
                let client = try await registryOptions.client(for: reference, store: outputStore)
                let tags = try await registryOptions.resolve(tags: tag, for: reference, client: client)
                let report = try await RegistryTransfer.push(image, to: reference, tags: tags, client: client)
                if !json { print("pushed \(reference.registry)/\(reference.repository):\(tags.joined(separator: ",")) \(report.summary)") }
                return image
            }
        } else {
            image = try await produce(&plan, target: target, store: store)
        }
        try BuildReport(image: image, output: output).print(json: json)
    }

    /// An inference config's baseImageRegistry credentials, for the base image's registry only.
    static func baseCredentials(_ config: InferenceConfig?) -> [String: Credential] {
        guard let registry = config?.baseImageRegistry, let host = registry.host,
              let username = registry.username, let password = registry.password else { return [:] }
        return [host: Credential(username: username, password: password)]
    }

    /// A registry base's manifest and config, its layers left in the registry; nil for other bases.
    func resolveBase(_ plan: BuildPlan, into work: URL, store: CredentialStore) async throws -> Image? {
        guard case let .registry(reference) = plan.base else { return nil }
        let client = try await registryOptions.client(for: reference, store: store)
        return try await RegistryTransfer.resolve(reference, platform: plan.platform ?? .host, client: client,
                                                  into: work.appendingPathComponent("base"))
    }

    /// Realizes the plan's conda environment into layer specs and config edits. The base's layers are
    /// read (downloaded if still remote, but still mounted on push) only to find its glibc.
    func addEnvironment(_ plan: inout BuildPlan, base: Image?, work: URL) async throws {
        guard let conda = plan.conda else { return }
        var layers: [Layer]
        var baseConfig: ImageConfiguration?
        switch plan.base {
        case .scratch: layers = []
        case let .layout(path, tag):
            let image = try ImageReader.open("oci:\(path)" + (tag.map { ":\($0)" } ?? ""), platform: plan.platform, scratch: work)
            layers = image.layers
            baseConfig = image.config
        case .registry:
            layers = base?.layers ?? []
            baseConfig = base?.config
            if !conda.virtualPackages.contains(where: { $0.hasPrefix("__glibc=") }) {
                for layer in layers where !FileManager.default.fileExists(atPath: layer.blobPath) {
                    guard let remote = layer.remote else { continue }
                    _ = try await remote.client.downloadBlob(remote.repository, digest: layer.descriptor.digest, to: layer.blobPath)
                }
            }
        }
        let platform = plan.platform ?? baseConfig?.platform ?? .host
        let fetcher = Fetcher(cacheDirectory: Fetcher.defaultCacheDirectory, http: try registryOptions.httpClient())
        let result = try await EnvironmentStage.run(conda, platform: platform, baseLayers: layers, baseEnv: baseConfig?.config?.env ?? [],
                                                    work: work, epoch: plan.sourceDateEpoch, fetcher: fetcher) { line in
            FileHandle.standardError.write(Data("kiln: \(line)\n".utf8))
        }
        plan.layers += result.layers
        for variable in result.env { plan.config.setEnv(variable.key, variable.value) }
        plan.config.labels["org.kiln.conda.prefix"] = result.prefix
    }

    func makePlan(config: InferenceConfig?) throws -> BuildPlan {
        var plan = BuildPlan()
        plan.sourceDateEpoch = try sourceDateEpoch()
        guard let compression = LayerCompression(rawValue: compression) else {
            throw BuildError.invalidArgument("--compression '\(compression)': expected gzip, zstd or none")
        }
        plan.compression = compression
        if let platform { plan.platform = try Platform(parsing: platform) }
        if let config, let inferenceConfig {
            try InferenceConfigPlanner.apply(config, path: inferenceConfig, to: &plan, baseOverridden: base != nil)
        }
        if let base { plan.base = try parseBase(base) }
        if condaFile != nil || locked != nil || plan.conda != nil {
            var conda = plan.conda ?? CondaPlan()
            if let condaFile { conda.environmentFile = condaFile }
            conda.lockedFile = locked
            conda.writeLock = lock
            conda.prefix = envPrefix
            conda.channels = channel
            if let channelAlias { conda.channelAlias = channelAlias }
            conda.virtualPackages = virtualPackage
            plan.conda = conda
        } else if lock != nil || envPrefix != nil || !channel.isEmpty || !virtualPackage.isEmpty {
            throw BuildError.invalidArgument("--lock, --env-prefix, --channel and --virtual-package need a conda environment (--conda-file or --locked)")
        }
        let models = try model.map(ModelSpec.init(parsing:))
        for model in models { model.apply(to: &plan) }
        if models.count > 1 {
            // With several models, AzureML points AZUREML_MODEL_DIR at the folder that holds them all.
            plan.config.setEnv("AZUREML_MODEL_DIR", "\(InferenceConfigPlanner.appRoot)/azureml-models")
        }
        let inputs = try add.map(Self.parseAdd)
        if !inputs.isEmpty {
            plan.layers.append(LayerSpec(kind: .files, description: "files " + inputs.map(\.destination).joined(separator: " "),
                                         inputs: inputs))
        }
        for text in env {
            let variable = try EnvVar(parsing: text)
            plan.config.setEnv(variable.key, variable.value)
        }
        if let entrypoint { plan.config.entrypoint = try Self.parseCommand(entrypoint, flag: "--entrypoint") }
        if let cmd { plan.config.cmd = try Self.parseCommand(cmd, flag: "--cmd") }
        if let workdir {
            guard workdir.hasPrefix("/") else { throw BuildError.invalidArgument("--workdir '\(workdir)': must be an absolute path") }
            plan.config.workingDir = workdir
        }
        plan.config.user = user
        plan.config.exposedPorts = try expose.map(Self.parsePort)
        for text in label {
            guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
                throw BuildError.invalidArgument("--label '\(text)': expected KEY=VALUE")
            }
            plan.config.labels[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        return plan
    }

    /// Builds in a hidden directory beside the output, writes the output, and removes the directory,
    /// so that a failure at any step leaves nothing behind.
    func produce(_ plan: inout BuildPlan, target: OutputTarget, store: CredentialStore) async throws -> Image {
        guard let path = target.path else { throw BuildError.output("no local path for \(output)") }
        let createdParents = try Atomic.createParents(of: path)
        do {
            let work = try Atomic.stagingPath(for: path)
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: false)
            defer { try? FileManager.default.removeItem(atPath: work) }
            let remote = try await resolveBase(plan, into: URL(fileURLWithPath: work), store: store)
            var base: Image?
            if let remote { base = try await RegistryTransfer.download(remote) }
            try await addEnvironment(&plan, base: base, work: URL(fileURLWithPath: work))
            return try produce(plan, base: base, target: target, work: work)
        } catch {
            Atomic.removeEmpty(createdParents)
            throw error
        }
    }

    func produce(_ plan: BuildPlan, base: Image?, target: OutputTarget, work: String) throws -> Image {
        let image = try ImageBuilder(workDirectory: URL(fileURLWithPath: work)).build(plan, resolvedBase: base)
        switch target {
        case let .layout(path, tag):
            try LayoutOutput.write(image, to: path, tag: tag)
        case let .dockerArchive(path, reference):
            try DockerArchiveOutput.write(image, to: path, reference: reference, mtime: plan.sourceDateEpoch)
        case .registry:
            throw BuildError.output("registry outputs are pushed, not written")
        }
        return image
    }

    func sourceDateEpoch() throws -> Int64 {
        guard let text = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], !text.isEmpty else {
            return BuildPlan.defaultEpoch
        }
        guard let value = Int64(text), value >= 0, value < 253_402_300_800 else {
            throw BuildError.invalidArgument("SOURCE_DATE_EPOCH '\(text)': expected whole seconds since 1970")
        }
        return value
    }

    /// `SRC:DEST`, split at the last ':' that starts an absolute DEST, so SRC may itself contain ':'.
    static func parseAdd(_ text: String) throws -> LayerInput {
        guard let range = text.range(of: ":/", options: .backwards), range.lowerBound != text.startIndex else {
            throw BuildError.invalidArgument("--add '\(text)': expected SRC:DEST with DEST an absolute path in the image")
        }
        return LayerInput(source: String(text[..<range.lowerBound]), destination: String(text[text.index(after: range.lowerBound)...]))
    }

    /// A JSON array (`["python","-m","app"]`) is taken as is; other text is split on spaces.
    static func parseCommand(_ text: String, flag: String) throws -> [String] {
        if text.hasPrefix("[") {
            guard let array = try? JSONDecoder().decode([String].self, from: Data(text.utf8)) else {
                throw BuildError.invalidArgument("\(flag) '\(text)': not a JSON array of strings")
            }
            return array
        }
        return text.split(separator: " ").map(String.init)
    }

    static func parsePort(_ text: String) throws -> String {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        let protocols = ["tcp", "udp", "sctp"]
        guard (1...2).contains(parts.count), let port = Int(parts[0]), (1...65535).contains(port),
              parts.count == 1 || protocols.contains(String(parts[1])) else {
            throw BuildError.invalidArgument("--expose '\(text)': expected PORT[/tcp|udp|sctp] with PORT in 1-65535")
        }
        return parts.count == 1 ? "\(port)/tcp" : "\(port)/\(parts[1])"
    }
}

/// What `kiln build` prints.
struct BuildReport: Encodable {
    struct LayerReport: Encodable {
        var digest: String
        var diffID: String
        var size: Int64
        var mediaType: String
    }

    var output: String
    var manifestDigest: String
    var configDigest: String
    var layers: [LayerReport]

    init(image: Image, output: String) {
        self.output = output
        manifestDigest = image.manifestDigest.description
        configDigest = image.manifest.config.digest.description
        layers = image.layers.map {
            LayerReport(digest: $0.descriptor.digest.description, diffID: $0.diffID.description, size: $0.descriptor.size,
                        mediaType: $0.descriptor.mediaType)
        }
    }

    func print(json: Bool) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
            Swift.print(String(decoding: try encoder.encode(self), as: UTF8.self))
        } else {
            Swift.print("built \(output)")
            Swift.print("manifest \(manifestDigest)")
            Swift.print("config   \(configDigest)")
            for layer in layers { Swift.print("layer    \(layer.digest) \(layer.size) bytes (diffID \(layer.diffID))") }
        }
    }
}
