import Foundation

/// How sdists are built: where (a runner, found only when a build is first needed) and for how long.
public struct SourceBuilds: Sendable {
    public var runner: @Sendable () async throws -> any BuildRunner
    /// Each hook call's limit.
    public var timeout: Duration

    public static let defaultTimeout = Duration.seconds(1800)

    public init(timeout: Duration = defaultTimeout, runner: @escaping @Sendable () async throws -> any BuildRunner) {
        self.runner = runner
        self.timeout = timeout
    }

    /// Builds with a host interpreter of the target's version (`--build-python`, else found on PATH).
    public static func host(python: String? = nil, timeout: Duration = defaultTimeout, target: PythonVersion) -> SourceBuilds {
        SourceBuilds(timeout: timeout) { try await HostPython.find(for: target, explicit: python) }
    }
}

/// A PEP 517 build frontend. For one sdist it downloads and verifies the file, unpacks it (refusing hostile
/// archives before anything runs), sets up an isolated build environment with the build requirements,
/// resolved and installed by Kiln itself from the same indexes, and calls the backend's hooks through a
/// runner. Metadata comes from PKG-INFO when PEP 643 makes it static, else from
/// `prepare_metadata_for_build_wheel`. Results are cached by the sdist's sha256 and the target's tags,
/// so each sdist is built once.
public actor SourceBuilder {
    let client: IndexClient
    let target: PythonTarget
    let builds: SourceBuilds
    var runner: (any BuildRunner)?
    let metadataTasks = TaskTable<CoreMetadata>()
    let wheelTasks = TaskTable<BuiltWheel>()

    /// The sdists being built by this task and the builds that wait on it, to refuse a build that needs itself.
    @TaskLocal static var chain: [String] = []

    public struct BuiltWheel: Sendable {
        public var path: String
        public var fileName: String
    }

    public init(client: IndexClient, target: PythonTarget, builds: SourceBuilds) {
        self.client = client
        self.target = target
        self.builds = builds
    }

    /// `cp311-manylinux_2_28_x86_64`: what a built wheel is built for.
    var tagKey: String { "cp\(target.major)\(target.minor)-\(target.platforms.first ?? "linux_\(target.machine)")" }

    func cacheDirectory(sha256: String) -> String {
        client.cacheDirectory.appendingPathComponent("built").appendingPathComponent(sha256).appendingPathComponent(tagKey).path
    }

    /// The sdist's core metadata: static PKG-INFO, a cached answer, or the backend's.
    public func metadata(_ sdist: DistributionFile, key: String, version: PythonVersion) async throws -> CoreMetadata {
        try await once(metadataTasks, sdist, key: key) { try await self.loadMetadata(sdist, key: key, version: version) }
    }

    /// The wheel built from `sdist`, from the cache when it was built before.
    public func wheel(_ sdist: DistributionFile, key: String, version: PythonVersion) async throws -> BuiltWheel {
        try await once(wheelTasks, sdist, key: key) { try await self.build(sdist, key: key, version: version) }
    }

    /// `work` once per sdist, however many ask at once; a build that needs itself is refused first.
    func once<T: Sendable>(_ table: TaskTable<T>, _ sdist: DistributionFile, key: String,
                           _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let id = sdist.sha256 ?? sdist.url
        try refuseCycle(id, key: key)
        if let task = table.tasks[id] { return try await task.value }
        let task = Task { try await Self.$chain.withValue(Self.chain + [id]) { try await work() } }
        table.tasks[id] = task
        return try await task.value
    }

    func refuseCycle(_ id: String, key: String) throws {
        guard Self.chain.contains(id) else { return }
        throw PipError.build("building \(key) needs \(key) itself among its build requirements; kiln cannot build it (pip and uv cannot either)")
    }

    /// The runner, made when the first build needs it; its errors name the sdist that needed it.
    func findRunner(for what: String) async throws -> any BuildRunner {
        if let runner { return runner }
        do {
            let found = try await builds.runner()
            runner = found
            return found
        } catch let error as PipError {
            throw PipError.build("\(what): \(error)")
        }
    }

    // MARK: steps

    func loadMetadata(_ sdist: DistributionFile, key: String, version: PythonVersion) async throws -> CoreMetadata {
        let (path, sha256) = try await client.wheel(sdist)
        let what = sdist.fileName
        let cache = cacheDirectory(sha256: sha256)
        if let data = FileManager.default.contents(atPath: cache + "/METADATA") {
            return try checked(CoreMetadata(data, source: what), key: key, version: version, what: what)
        }
        let workspace = try makeWorkspace(sdist)
        defer { try? FileManager.default.removeItem(atPath: workspace.root) }
        var space = workspace
        space.project = try unpack(path, sdist: sdist, into: workspace)
        // PEP 643: with Metadata-Version 2.2 or later, fields not named in Dynamic are what the built wheel says.
        if let data = FileManager.default.contents(atPath: workspace.root + "/" + space.project + "/PKG-INFO"),
           let metadata = try? CoreMetadata(data, source: what + " PKG-INFO"), Self.isStatic(data) {
            client.log("\(what): static metadata from PKG-INFO (PEP 643)")
            return try checked(metadata, key: key, version: version, what: what)
        }
        let runner = try await findRunner(for: what)
        let backend = try await prepareEnvironment(&space, runner: runner, what: what)
        var data: Data?
        if case let .value(name) = try await space.call("prepare_metadata_for_build_wheel", kwargs: ["metadata_directory": "meta"],
                                                        backend: backend, runner: runner, timeout: builds.timeout, what: what) {
            guard let name = name as? String, !name.contains("/"), name.hasSuffix(".dist-info") else {
                throw PipError.build("\(what): prepare_metadata_for_build_wheel returned \(name), not a .dist-info directory name")
            }
            data = FileManager.default.contents(atPath: "\(workspace.root)/meta/\(name)/METADATA")
            guard data != nil else { throw PipError.build("\(what): prepare_metadata_for_build_wheel wrote no \(name)/METADATA") }
        } else {
            // No metadata hook: build the wheel (kept in the cache) and read its METADATA.
            let built = try await buildWheel(&space, backend: backend, runner: runner, sdist: sdist, sha256: sha256, key: key, version: version)
            data = try await IndexClient.wheelMetadata(try FileByteSource(path: built.path), DistributionFile.local(built.path, name: built.fileName))
        }
        guard let data else { throw PipError.build("\(what): the build gave no metadata") }
        let metadata = try checked(CoreMetadata(data, source: what + " (built metadata)"), key: key, version: version, what: what)
        try store(data, as: "METADATA", in: cache)
        return metadata
    }

    func build(_ sdist: DistributionFile, key: String, version: PythonVersion) async throws -> BuiltWheel {
        let (path, sha256) = try await client.wheel(sdist)
        let what = sdist.fileName
        let cache = cacheDirectory(sha256: sha256)
        if let cached = (try? FileManager.default.contentsOfDirectory(atPath: cache))?.first(where: { $0.hasSuffix(".whl") }) {
            // A cached wheel is checked against the sha256 recorded when it was built, as a downloaded one is.
            let recorded = try? String(contentsOfFile: cache + "/" + cached + ".sha256", encoding: .utf8)
            if let recorded, (try? IndexClient.sha256File(cache + "/" + cached)) == recorded {
                client.log("\(what): built wheel \(cached) from the cache")
                return BuiltWheel(path: cache + "/" + cached, fileName: cached)
            }
            client.log("\(what): the cached \(cached) does not match its recorded sha256; building it again")
            try? FileManager.default.removeItem(atPath: cache + "/" + cached)
        }
        let workspace = try makeWorkspace(sdist)
        defer { try? FileManager.default.removeItem(atPath: workspace.root) }
        var space = workspace
        space.project = try unpack(path, sdist: sdist, into: workspace)
        let runner = try await findRunner(for: what)
        let backend = try await prepareEnvironment(&space, runner: runner, what: what)
        return try await buildWheel(&space, backend: backend, runner: runner, sdist: sdist, sha256: sha256, key: key, version: version)
    }

    func buildWheel(_ space: inout BuildWorkspace, backend: BuildSystem, runner: any BuildRunner, sdist: DistributionFile, sha256: String,
                    key: String, version: PythonVersion) async throws -> BuiltWheel {
        let what = sdist.fileName
        let started = ContinuousClock.now
        guard case let .value(returned) = try await space.call("build_wheel", kwargs: ["wheel_directory": "out"], backend: backend,
                                                                runner: runner, timeout: builds.timeout, what: what) else {
            throw PipError.build("\(what): the build backend \(backend.backend) has no build_wheel hook")
        }
        guard let name = returned as? String, !name.contains("/"), let wheel = WheelName(name) else {
            throw PipError.build("\(what): build_wheel returned \(returned), not a wheel file name")
        }
        let built = space.root + "/out/" + name
        guard FileManager.default.fileExists(atPath: built) else { throw PipError.build("\(what): build_wheel named \(name) but did not write it") }
        guard normalizeName(wheel.name) == key, wheel.version == version else {
            throw PipError.build("\(what): the build made \(name), not \(key) \(version)")
        }
        guard wheel.rank(target.tagRanks) != nil else {
            throw PipError.build("\(what): the build made \(name), which does not fit cp\(target.major)\(target.minor) on \(target.platforms.first ?? target.machine) (built with \(runner.label))")
        }
        let cache = cacheDirectory(sha256: sha256)
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        let final = cache + "/" + name
        // The hash first, so a wheel in the cache always has one (a killed run leaves a hash without a wheel);
        // rename(2) replaces what a concurrent build of the same sdist stored in one step.
        try Data(try IndexClient.sha256File(built).utf8).write(to: URL(fileURLWithPath: final + ".sha256"), options: .atomic)
        guard rename(built, final) == 0 else { throw PipError.build("cannot store \(final): \(String(cString: strerror(errno)))") }
        client.log("built \(name) from \(what) with \(runner.label) in \(Self.seconds(started.duration(to: .now)))")
        return BuiltWheel(path: final, fileName: name)
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.2f s", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }

    // MARK: workspace

    func makeWorkspace(_ sdist: DistributionFile) throws -> BuildWorkspace {
        let root = client.cacheDirectory.appendingPathComponent("build-work").appendingPathComponent(UUID().uuidString).path
        var workspace = try BuildWorkspace(root: root)
        workspace.keptLog = client.cacheDirectory.appendingPathComponent("build-logs").appendingPathComponent(sdist.fileName + ".log").path
        return workspace
    }

    /// Unpacks into `src/`; returns the project directory relative to the workspace.
    func unpack(_ path: String, sdist: DistributionFile, into workspace: BuildWorkspace) throws -> String {
        let project = try SourceArchive.extract(path, fileName: sdist.fileName, into: workspace.root + "/src")
        return String(project.dropFirst(workspace.root.count + 1))
    }

    /// Installs `[build-system] requires`, then what `get_requires_for_build_wheel` adds, into `env/`.
    func prepareEnvironment(_ space: inout BuildWorkspace, runner: any BuildRunner, what: String) async throws -> BuildSystem {
        let backend = try BuildSystem.read(project: space.root + "/" + space.project, what: what)
        let requires = try parse(backend.requires, what: what, source: "[build-system] requires")
        try await install(requires, into: space, runner: runner, what: what)
        if case let .value(extra) = try await space.call("get_requires_for_build_wheel", kwargs: [:], backend: backend, runner: runner,
                                                         timeout: builds.timeout, what: what) {
            guard let lines = extra as? [String] else { throw PipError.build("\(what): get_requires_for_build_wheel returned \(extra), not a list of strings") }
            let added = try parse(lines, what: what, source: "get_requires_for_build_wheel")
            let known = Set(requires.map(\.text))
            if added.contains(where: { !known.contains($0.text) }) {
                try? FileManager.default.removeItem(atPath: space.root + "/env")
                try await install(requires + added, into: space, runner: runner, what: what)
            }
        }
        return backend
    }

    func parse(_ lines: [String], what: String, source: String) throws -> [Requirement] {
        try lines.map { line in
            do { return try Requirement(parsing: line) } catch { throw PipError.build("\(what): \(source): \(error)") }
        }
    }

    func install(_ requirements: [Requirement], into space: BuildWorkspace, runner: any BuildRunner, what: String) async throws {
        for directory in [space.site, space.scripts] { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        guard !requirements.isEmpty else { return }
        let source = IndexSource(client: client, target: target, builder: self)
        let resolution: Resolution
        do {
            resolution = try await Resolver(source: source, environment: target.markers).resolve(requirements)
        } catch let error as PipError {
            throw PipError.build("\(what): its build requirements cannot be installed: \(error)")
        }
        var scheme = InstallScheme(sitePackages: space.site, scripts: space.scripts, headers: space.root + "/env/include",
                                   data: space.root + "/env", python: runner.interpreter)
        scheme.pythonVersion = target.python
        let wanted = resolution.picks.compactMap { PipJob.Wanted(pick: $0, requested: true, allowed: []) }
        client.log("\(what): build environment: \(resolution.picks.map { "\($0.key)==\($0.candidate.version)" }.joined(separator: " "))")
        _ = try await PipJob.fetchAndInstall(wanted, client: client, builder: self, installer: WheelInstaller(scheme: scheme), parallel: 4,
                                     title: "fetch \(wanted.count) build requirements of \(what)")
    }

    func store(_ data: Data, as name: String, in directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: directory + "/" + name), options: .atomic)
    }

    func checked(_ metadata: CoreMetadata, key: String, version: PythonVersion, what: String) throws -> CoreMetadata {
        guard normalizeName(metadata.name) == key, metadata.version == version else {
            throw PipError.build("\(what): its metadata names \(metadata.name) \(metadata.version), not \(key) \(version)")
        }
        return metadata
    }

    /// PEP 643: Metadata-Version 2.2 or later, and neither Requires-Dist nor Requires-Python is Dynamic.
    public static func isStatic(_ data: Data) -> Bool {
        let end = data.range(of: Data("\n\n".utf8)).map { data[data.startIndex..<$0.lowerBound] } ?? data
        let headers = CoreMetadata.headers(String(decoding: end, as: UTF8.self))
        guard let version = headers.first(where: { $0.0 == "metadata-version" })?.1,
              let parsed = try? PythonVersion(version), parsed >= (try? PythonVersion("2.2")) ?? parsed else { return false }
        let dynamic = Set(headers.filter { $0.0 == "dynamic" }.map { $0.1.lowercased() })
        return !dynamic.contains("requires-dist") && !dynamic.contains("requires-python")
    }
}

/// One task per sdist, for those who ask while it runs or after; only the builder (an actor) touches it.
final class TaskTable<T: Sendable> {
    var tasks: [String: Task<T, Error>] = [:]
}

extension DistributionFile {
    /// A file on disk, for reading a built wheel.
    static func local(_ path: String, name: String) -> DistributionFile {
        DistributionFile(fileName: name, url: "file://" + path, sha256: nil, requiresPython: nil, hasMetadataFile: false,
                         metadataSHA256: nil, yanked: false, sourceOrder: 0)
    }
}
