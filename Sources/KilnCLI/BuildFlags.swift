import AzureML
import Foundation
import Kiln
import Registry

/// How `kiln build`'s flags become a plan. Each library error is reported with the flag it came from.
extension BuildCommand {
    /// The plan from the AzureML input (if any), then the flags, which win.
    func makePlan() throws -> (BuildPlan, FrontEndResult?) {
        var plan = BuildPlan()
        plan.sourceDateEpoch = try Self.sourceDateEpoch()
        guard let compression = LayerCompression(rawValue: compression) else {
            throw PlanError.invalid("--compression '\(compression)': expected gzip, zstd or none")
        }
        plan.compression = compression
        if let platform { plan.platform = try FlagError.reading("--platform") { try Platform(parsing: platform) } }
        let catalogue = try BaseCatalogue.located()
        var frontEnd: FrontEndResult?
        var named: BaseImage?
        if input != nil, inferenceConfig != nil { throw PlanError.invalid("give an input file or --inference-config, not both") }
        let azureML = try input.map(AzureMLInput.detect) ?? inferenceConfig.map { AzureMLInput.inferenceConfig($0) }
        if let azureML {
            frontEnd = try azureML.plan(over: plan, options: FrontEndOptions(base: base, serve: !noServer, catalogue: catalogue))
            plan = frontEnd?.plan ?? plan
            named = frontEnd?.base
        } else if let base {
            let resolved = try FlagError.reading("--base") { try BaseCatalogue.resolve(base, in: catalogue) }
            plan.base = resolved.location
            named = resolved.entry
        }
        if condaFile != nil || locked != nil || !requirements.isEmpty || plan.environment != nil {
            var environment = plan.environment ?? EnvironmentPlan()
            if condaFile != nil || locked != nil || environment.usesConda { environment = AzureMLLayout.environment(environment) }
            if let condaFile { environment.environmentFile = condaFile }
            environment.lockedFile = locked
            environment.writeLock = lock
            environment.prefix = envPrefix
            environment.channels = channel
            if let channelAlias { environment.channelAlias = channelAlias }
            environment.virtualPackages += virtualPackage
            environment.requirementFiles += requirements
            environment.indexURL = indexURL ?? environment.indexURL
            environment.extraIndexURLs += extraIndexURL
            if environment.basePython == nil { environment.basePython = named?.basePython }
            try builds.apply(to: &environment)
            plan.environment = environment
        } else if lock != nil || envPrefix != nil || !channel.isEmpty || !virtualPackage.isEmpty || indexURL != nil || !extraIndexURL.isEmpty
                    || builds.noBuild || builds.buildTimeout != SourceBuildOptions.defaultTimeout {
            throw PlanError.invalid("--lock, --env-prefix, --channel, --virtual-package, --index-url, --extra-index-url, --no-build and --build-timeout need an environment (--conda-file, --locked or --requirements)")
        }
        // The lock is labelled by the library from its contents, the same for either lock format.
        let inputFiles = [("environment", condaFile)].compactMap { role, path in path.map { (role, $0) } }
            + requirements.enumerated().map { ("requirements" + ($0.offset == 0 ? "" : "-\($0.offset + 1)"), $0.element) }
        if !inputFiles.isEmpty {
            try Provenance.apply(inputs: inputFiles, title: nil, description: nil, to: &plan)
        }
        let models = try model.map { text in try FlagError.reading("--model") { try ModelSpec(parsing: text) } }
        for model in models { model.apply(to: &plan) }
        AzureMLLayout.finishModels(models.count, in: &plan)
        let inputs = try add.map(Self.parseAdd)
        if !inputs.isEmpty {
            plan.layers.append(LayerSpec(kind: .files, description: "files " + inputs.map(\.destination).joined(separator: " "), inputs: inputs))
        }
        for text in env {
            let variable = try FlagError.reading("--env") { try EnvVar(parsing: text) }
            plan.config.setEnv(variable.key, variable.value)
        }
        if let entrypoint { plan.config.entrypoint = try Self.parseCommand(entrypoint, flag: "--entrypoint") }
        if let cmd { plan.config.cmd = try Self.parseCommand(cmd, flag: "--cmd") }
        if let workdir {
            guard workdir.hasPrefix("/") else { throw PlanError.invalid("--workdir '\(workdir)': must be an absolute path") }
            plan.config.workingDir = workdir
        }
        plan.config.user = user
        for port in try expose.map(Self.parsePort) { plan.config.expose(port) }
        for text in label {
            guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
                throw PlanError.invalid("--label '\(text)': expected KEY=VALUE")
            }
            plan.config.labels[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        return (plan, frontEnd)
    }

    /// An inference config's baseImageRegistry credentials, for the base image's registry only.
    static func baseCredentials(_ registry: InferenceConfig.RegistryCredentials?) -> [String: Credential] {
        guard let registry, let host = registry.host,
              let username = registry.username, let password = registry.password else { return [:] }
        return [host: Credential(username: username, password: password)]
    }

    static func sourceDateEpoch() throws -> Int64 {
        guard let text = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], !text.isEmpty else {
            return BuildPlan.defaultEpoch
        }
        guard let value = Int64(text), value >= 0, value < 253_402_300_800 else {
            throw PlanError.invalid("SOURCE_DATE_EPOCH '\(text)': expected whole seconds since 1970")
        }
        return value
    }

    /// `SRC:DEST`, split at the last ':' that starts an absolute DEST, so SRC may itself contain ':'.
    static func parseAdd(_ text: String) throws -> LayerInput {
        guard let range = text.range(of: ":/", options: .backwards), range.lowerBound != text.startIndex else {
            throw PlanError.invalid("--add '\(text)': expected SRC:DEST with DEST an absolute path in the image")
        }
        return LayerInput(source: String(text[..<range.lowerBound]), destination: String(text[text.index(after: range.lowerBound)...]))
    }

    /// A JSON array (`["python","-m","app"]`) is taken as is; other text is split on spaces.
    static func parseCommand(_ text: String, flag: String) throws -> [String] {
        if text.hasPrefix("[") {
            guard let array = try? JSONDecoder().decode([String].self, from: Data(text.utf8)) else {
                throw PlanError.invalid("\(flag) '\(text)': not a JSON array of strings")
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
            throw PlanError.invalid("--expose '\(text)': expected PORT[/tcp|udp|sctp] with PORT in 1-65535")
        }
        return parts.count == 1 ? "\(port)/tcp" : "\(port)/\(parts[1])"
    }
}
