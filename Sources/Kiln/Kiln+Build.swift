import Conda
import Environments
import Foundation
import Images
import OCI
import Pip
import Plan
import Progress
import Run

extension Kiln {
    /// Builds the image `plan` describes and writes it to `destination`: an OCI layout, a
    /// docker-archive, or a registry repository (pushed under `options.tags`).
    ///
    /// The base is read from wherever `plan.base` points. A registry base's layers are never
    /// downloaded for a registry destination: they are mounted within one registry and streamed across
    /// registries. A conda environment in the plan is solved (or read from its lock), installed with its
    /// `pip:` section, and split into layers below the model, file and code layers.
    public static func build(_ plan: BuildPlan, to destination: ImageLocation, options: BuildOptions = BuildOptions()) async throws -> BuildResult {
        if case .scratch = destination { throw ImageError.output("scratch is an empty base, not somewhere an image can be written") }
        var baseSettings = options.registry
        baseSettings.credentials.perRegistry.merge(options.baseCredentials) { _, base in base }
        let baseSession = RegistrySession(settings: baseSettings)
        let outputSession = RegistrySession(settings: options.registry)
        return try await Staging.around(destination, handleSignals: options.handleSignals) { work in
            let base = try await plan.base.source(session: baseSession, scratch: work.appendingPathComponent("base")).image(platform: plan.platform)
            var plan = plan
            var prefix: String?
            var realised: EnvironmentStage.Result?
            if let environment = plan.environment {
                let result = try await realise(environment, over: base, plan: plan, session: baseSession, work: work, options: options)
                realised = result
                plan.layers += try EnvironmentLayers.specs(for: result, work: work)
                for variable in result.env { plan.config.setEnv(variable.key, variable.value) }
                plan.config.labels[Self.lockLabel] = result.lockDigest.description
                if result.isConda {
                    plan.config.labels["org.kiln.conda.prefix"] = result.prefix
                    prefix = result.prefix
                }
            }
            // The SBOM needs only the environment and the base: written while the layers are.
            let sbomDocument = realised.map { realised in
                let baseName = { if case let .registry(reference) = plan.base { return reference.description } else { return "base image" } }()
                let baseDigest = base.layers.isEmpty ? nil : base.manifestDigest
                return Task { [epoch = plan.sourceDateEpoch] in try SPDX.document(for: realised, baseName: baseName, baseDigest: baseDigest, epoch: epoch) }
            }
            let sink = try destination.sink(session: outputSession, tags: options.tags, remotes: baseSession, epoch: plan.sourceDateEpoch)
            var builder = ImageBuilder(workDirectory: work)
            if options.layerCache { builder.layerCache = LayerCache(directory: options.cacheDirectory.appendingPathComponent("layers")) }
            // A registry takes each new layer while it is written, so the push overlaps the build.
            if options.streamLayers { builder.layerUploads = sink.layerUploads(log: options.log) }
            let built: ImageBuilder.Built
            do {
                built = try await Self.offThePool { [builder, plan] in try builder.assemble(plan, base: base) }
            } catch {
                builder.layerUploads?.cancel()
                throw error
            }
            let image = built.image
            let push = try await sink.write(image)
            var result = BuildResult(location: destination, image: image, push: push, environmentPrefix: prefix)
            result.reusedLayers = built.reusedLayers
            if let sbomDocument {
                let sbom = try await sbomDocument.value
                result.sbom = try await sink.attach(Artifact(artifactType: SPDX.mediaType, data: sbom), to: image)
                if result.sbom == nil { options.log("note: \(destination) has no place for the SBOM (an OCI layout or a registry has)") }
            }
            return result
        }
    }

    /// Runs `work`, which blocks (layer writing), on a thread of its own rather than one of the concurrency
    /// pool's few: the uploads that stream its layers need that pool meanwhile. Progress still reaches the
    /// caller's reporter.
    static func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        let reporter = Progress.reporter
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try Progress.$reporter.withValue(reporter) { try work() } })
            }
        }
    }

    /// The label holding `EnvironmentStage.Result.lockDigest`: what the environment holds, package by package.
    public static let lockLabel = "org.kiln.input.lock"

    /// Installs the plan's environment for the base image's platform, glibc and (without conda) python.
    /// The base's layers are read (downloaded to `work` if remote, but left remote in the image) unless the probe
    /// cache answers for them.
    static func realise(_ environment: EnvironmentPlan, over base: Image, plan: BuildPlan, session: RegistrySession,
                        work: URL, options: BuildOptions) async throws -> EnvironmentStage.Result {
        // The base's layers tell its glibc, and its python when the requirements go into that python. The probe cache
        // answers by the layers' digests, which name their files: a rebuild over the same registry base downloads
        // none of it (gigabytes, for a CUDA base) unless an sdist must be built in it.
        let cache = options.fetcher.cacheDirectory
        let downloads = work.appendingPathComponent("base-layers").path
        let planned = base.layers.map { layer -> String in
            if case let .file(path) = layer.blob { return path }
            return downloads + "/" + layer.descriptor.digest.encoded
        }
        let intoPython = try EnvironmentStage.installsIntoBasePython(environment)
        let needsGlibc = !environment.virtualPackages.contains(where: { $0.hasPrefix("__glibc=") })
        let answered = (!intoPython || PythonProbe.isCached(inLayers: planned, hint: environment.basePython, cache: cache))
            && (!needsGlibc || GlibcProbe.isCached(inLayers: planned, cache: cache))
        let layers = answered ? planned : try await session.downloaded(base.layers, into: downloads).compactMap(\.path)
        let platform = plan.platform ?? base.config.platform
        // sdists are built in the image itself: its base layers, with the environment bound at its prefix.
        let sandboxDirectory = work.appendingPathComponent("build-sandbox").path
        let log = options.log
        let sandbox: BuildSandbox = { python in
            log("pip: building sdists in the image with \(python.interpreter), under runc")
            let binds = python.prefix == "/" ? [] : [ImageBuildSandbox.Bind(source: python.stagedRoot, destination: python.prefix)]
            // Downloaded now if the probe cache spared it before.
            let baseLayers = try await session.downloaded(base.layers, into: downloads).compactMap(\.path)
            return try ImageBuildSandbox.create(baseLayers: baseLayers, binds: binds, interpreter: python.interpreter, at: sandboxDirectory)
        }
        let install = { (glibc: String?, python: PythonProbe.Found?, root: URL) async throws -> EnvironmentStage.Result in
            if let glibc { log("base image glibc \(glibc)") }
            return try await EnvironmentStage.run(environment, platform: platform, glibc: glibc, baseEnv: base.config.config?.env ?? [],
                                                  baseLayers: layers, basePython: python, root: root, epoch: plan.sourceDateEpoch,
                                                  fetcher: options.fetcher, sandbox: sandbox, forLayers: true, log: log)
        }
        if intoPython, !answered {
            // The requirements are resolved and fetched while the rest of the base is read.
            return try await probingAhead(layers, hint: environment.basePython, needsGlibc: needsGlibc, cache: cache, log: log) { answers, attempt in
                let root = work.appendingPathComponent(attempt == 0 ? "environment" : "environment-\(attempt)")
                if attempt > 0 { try? FileManager.default.removeItem(atPath: sandboxDirectory) }
                return try await install(needsGlibc ? answers.glibc : nil, answers.python, root)
            }
        }
        let python = intoPython ? try PythonProbe.find(inLayers: layers, hint: environment.basePython, cache: cache) : nil
        let glibc = needsGlibc ? try GlibcProbe.version(inLayers: layers, cache: cache) : nil
        return try await install(glibc, python, work.appendingPathComponent("environment"))
    }
}
