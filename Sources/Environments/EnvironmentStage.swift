import Archive
import Conda
import Foundation
import Progress
import OCI
import Pip
import Plan

/// Realises an `EnvironmentPlan` into a directory: solves the conda dependencies (or reads the lock),
/// installs them, then resolves and installs the `pip:` lines into the same prefix, and writes the lock
/// when asked. `kiln build` and `kiln env install` both run it, so neither can drop a section.
public enum EnvironmentStage {
    /// What was installed, and where.
    public struct Result: Sendable {
        /// The prefix the environment was made for (its path in the image).
        public var prefix: String
        /// The directory holding the installed files.
        public var root: URL
        /// Conda packages, in install order.
        public var records: [PackageRecord]
        /// Wheels the `pip:` section installed.
        public var wheels: [InstalledWheel]
        /// The wheels as a lock names them: URL and sha256.
        public var lockedWheels: [LockedWheel] = []
        /// Variables the image needs: `PATH`, `LD_LIBRARY_PATH`, and the plan's prefix variable.
        public var env: [EnvVar]
        /// Files under `root` that were left in their wheels, for the layers to read from there (nil: all on disk).
        public var deferred: DeferredMembers?

        /// False when the requirements went into the base image's python, with no conda environment.
        public var isConda: Bool { !records.isEmpty }

        /// SHA-256 over the sorted `URL#sha256` lines of every package installed: the same whether the
        /// environment was solved or read from either lock format, so a locked rebuild labels it alike.
        public var lockDigest: Digest {
            let lines = records.map { "\($0.url)#\($0.sha256 ?? "")" } + lockedWheels.map { "\($0.url)#\($0.sha256)" }
            return Digest.sha256(of: Data(lines.sorted().joined(separator: "\n").utf8))
        }
    }

    /// Whether `plan` installs into the base image's python (pip requirements without a conda environment), which
    /// `PythonProbe` must then find.
    public static func installsIntoBasePython(_ plan: EnvironmentPlan) throws -> Bool {
        try !plan.usesConda || pipOnlyFile(plan) != nil
    }

    /// An environment file with only a `pip:` section: it needs no conda, and is for the base's python.
    static func pipOnlyFile(_ plan: EnvironmentPlan) throws -> EnvironmentFile? {
        try plan.lockedFile == nil ? plan.environmentFile.map(EnvironmentFile.load).flatMap { $0.dependencies.isEmpty ? $0 : nil } : nil
    }

    /// Installs `plan` for `platform` into `root` (which must not exist yet), for use at the prefix the
    /// plan names. `glibc` is the target's (nil: none, as over `scratch`); `baseEnv` is the base image's
    /// environment, which `PATH` and `LD_LIBRARY_PATH` extend. Without conda, the requirements are
    /// installed for the python found in `baseLayers` (the base image's layer blobs, oldest first), and
    /// `root` stands for the image's `/`. sdists are built through `sandbox` (nil: not built). Warnings and
    /// progress go to `log`.
    /// With `forLayers`, wheel members are not written under `root` but left in `Result.deferred`. `basePython` is the
    /// base's python when the caller has probed it already (nil: found in `baseLayers` here).
    public static func run(_ plan: EnvironmentPlan, platform: Platform, glibc: String?, baseEnv: [String], baseLayers: [String] = [],
                           basePython: PythonProbe.Found? = nil, root: URL, epoch: Int64, fetcher: Fetcher, sandbox: BuildSandbox? = nil,
                           forLayers: Bool = false, log: (String) -> Void) async throws -> Result {
        let deferred = forLayers ? DeferredMembers() : nil
        let pipOnly = try pipOnlyFile(plan)
        guard plan.usesConda, pipOnly == nil else {
            return try await overBasePython(plan, file: pipOnly, platform: platform, glibc: glibc, baseEnv: baseEnv, baseLayers: baseLayers,
                                            found: basePython, root: root, epoch: epoch, fetcher: fetcher, sandbox: sandbox, deferred: deferred, log: log)
        }
        let solved = try await solve(plan, platform: platform, glibc: glibc, fetcher: fetcher)
        let (file, subdir, virtual, specs, channels, records) = (solved.file, solved.subdir, solved.virtual, solved.specs, solved.channels, solved.records)
        let prefix = plan.resolvedPrefix(hash: file?.definitionHash ?? lockHash(records))
        guard prefix.hasPrefix("/"), !prefix.split(separator: "/").contains("..") else {
            throw PlanError.invalid("environment prefix '\(prefix)' must be an absolute path without '..'")
        }
        let report = try await Installer.install(records, requested: specs, prefix: prefix, root: root, fetcher: fetcher,
                                                 epoch: epoch, variables: file?.variables ?? [:], deferred: deferred)
        // An sdist build runs the environment's own python: its files must then be in the tree after all.
        let sandbox = sandbox.map { make -> BuildSandbox in { python in try deferred?.materializeFiles(); return try await make(python) } }
        for line in report.warnings { log("warning: " + line) }
        let requirements = try PipStage.requirements(plan, file: file, log: log)
        var pip = PipStage.Result()
        if requirements != nil || plan.lockedFile != nil {
            let destination = try PipStage.condaDestination(records: records, virtual: virtual, platform: platform, root: root, prefix: prefix)
            pip = try await PipStage.run(plan, requirements: requirements, destination: destination, subdir: subdir, epoch: epoch,
                                         fetcher: fetcher, sandbox: sandbox, deferred: deferred, log: log)
        }
        if let output = plan.writeLock {
            let condaLock = LockFile.condaLock(records, platform: subdir, channels: channels, specs: specs)
            try writeAtomically(condaLock + PipLock.condaLockEntries(pip.locked, platform: subdir), to: output)
            try writeAtomically(LockFile.explicit(records, platform: subdir) + PipLock.explicitLines(pip.locked), to: output + ".explicit.txt")
        }
        var env = [EnvVar(key: "PATH", value: "\(prefix)/bin:\(basePath(baseEnv))")]
        if let variable = plan.prefixVariable { env.append(EnvVar(key: variable, value: prefix)) }
        let libraries = baseEnv.first { $0.hasPrefix("LD_LIBRARY_PATH=") }.map { ":" + $0.dropFirst(16) } ?? ""
        env.append(EnvVar(key: "LD_LIBRARY_PATH", value: "\(prefix)/lib\(libraries)"))
        return Result(prefix: prefix, root: root, records: records, wheels: pip.installed, lockedWheels: pip.locked, env: env, deferred: deferred)
    }

    /// pip without conda: the requirements, installed for the base image's python into its
    /// site-packages. The result's prefix is `/`, and `root` holds the new files at their image paths.
    static func overBasePython(_ plan: EnvironmentPlan, file: EnvironmentFile?, platform: Platform, glibc: String?, baseEnv: [String], baseLayers: [String],
                               found: PythonProbe.Found?, root: URL, epoch: Int64, fetcher: Fetcher, sandbox: BuildSandbox?, deferred: DeferredMembers?,
                               log: (String) -> Void) async throws -> Result {
        guard !plan.virtualPackages.contains(where: { !$0.hasPrefix("__glibc=") }), plan.channels.isEmpty, plan.writeLock == nil else {
            throw PlanError.invalid("channels, virtual packages and --lock need a conda environment (an environment file or a lock)")
        }
        let subdir = try CondaRequest.subdir(os: platform.os, architecture: platform.architecture)
        guard let requirements = try PipStage.requirements(plan, file: file, log: log) else {
            throw PlanError.invalid("an environment needs a conda environment file, a lock, or pip requirements")
        }
        guard let python = try found ?? PythonProbe.find(inLayers: baseLayers, hint: plan.basePython, cache: fetcher.cacheDirectory) else {
            let looked = plan.basePython.map { [$0.interpreter] } ?? PythonProbe.candidates
            throw PlanError.invalid("pip requirements without conda need a python in the base image, and it has none (looked for \(looked.joined(separator: ", "))); use a base with python or give a conda environment")
        }
        let override = plan.virtualPackages.first { $0.hasPrefix("__glibc=") }.map { String($0.dropFirst(8)) }
        let target = PythonTarget(python: try PythonVersion(python.version), glibc: (override ?? glibc).flatMap(PythonTarget.glibc(parsing:)),
                                  machine: PythonTarget.machine(forArchitecture: platform.architecture))
        log("base image python \(python.version) at \(python.interpreter); packages go to \(python.sitePackages)")
        let staged = root.path
        var scheme = InstallScheme(sitePackages: staged + python.sitePackages, scripts: staged + python.scripts,
                                   headers: staged + python.dataPrefix + "/include/python\(target.major).\(target.minor)",
                                   data: staged + python.dataPrefix, python: python.interpreter)
        scheme.pythonVersion = target.python
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let destination = PipStage.Destination(target: target, scheme: scheme, stagedSitePackages: staged + python.sitePackages,
                                               python: BuildPython(interpreter: python.interpreter, stagedRoot: staged, prefix: "/", version: target.python))
        let pip = try await PipStage.run(plan, requirements: requirements, destination: destination, subdir: subdir, epoch: epoch,
                                         fetcher: fetcher, sandbox: sandbox, deferred: deferred, log: log)
        let path = basePath(baseEnv)
        let env = path.split(separator: ":").contains(Substring(python.scripts)) ? [] : [EnvVar(key: "PATH", value: "\(python.scripts):\(path)")]
        return Result(prefix: "/", root: root, records: [], wheels: pip.installed, lockedWheels: pip.locked, env: env, deferred: deferred)
    }

    /// The base image's `PATH`, or the usual default.
    static func basePath(_ baseEnv: [String]) -> String {
        baseEnv.first { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    }

    /// A solved (or locked) environment, before anything is installed.
    public struct Solution: Sendable {
        public var file: EnvironmentFile?
        public var subdir: String
        public var virtual: [PackageRecord]
        public var specs: [MatchSpec]
        public var channels: [String]
        /// The packages, in the order the solver or lock gives.
        public var records: [PackageRecord]
    }

    /// Reads the environment file, works out channels and virtual packages, and solves, or reads the lock.
    public static func solve(_ plan: EnvironmentPlan, platform: Platform, glibc: String?, fetcher: Fetcher) async throws -> Solution {
        let file = try plan.environmentFile.map(EnvironmentFile.load)
        let subdir = try CondaRequest.subdir(os: platform.os, architecture: platform.architecture)
        let virtual = try CondaRequest.virtualPackages(subdir: subdir, glibc: glibc, overrides: plan.virtualPackages)
        let specs = file?.dependencies ?? []
        let names = plan.channels + (file?.channels ?? [])
        var channels: [String] = []
        for url in (names.isEmpty ? ["defaults"] : names).flatMap({ ChannelURL.resolve($0, alias: plan.channelAlias) }) where !channels.contains(url) {
            channels.append(url)
        }
        let records: [PackageRecord]
        if let locked = plan.lockedFile {
            records = try LockFile.read(locked, platform: subdir, channels: channels)
            guard !records.isEmpty else { throw CondaError.lockFile("\(locked) has no conda packages for \(subdir)") }
        } else {
            guard !specs.isEmpty else { throw PlanError.invalid("a conda environment needs an environment file with dependencies, or a lock file") }
            records = try await Progress.step("solve conda environment (\(specs.count) specs, \(subdir))") { step in
                let records = try await CondaRequest(channels: channels, specs: specs, platform: subdir, virtualPackages: virtual).solve(fetcher: fetcher)
                step.setTotal(Int64(records.count))
                step.advance(by: Int64(records.count))
                return records
            }
        }
        return Solution(file: file, subdir: subdir, virtual: virtual, specs: specs, channels: channels, records: records)
    }

    /// The prefix hash when only a lock is given: SHA-256 of its package URLs, sorted.
    static func lockHash(_ records: [PackageRecord]) -> String {
        String(Digest.sha256(of: Data(records.map(\.url).sorted().joined(separator: "\n").utf8)).encoded.prefix(32))
    }

    static func writeAtomically(_ text: String, to path: String) throws {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw PlanError.invalid("cannot write the lock file \(path): \(error.localizedDescription)")
        }
    }
}
