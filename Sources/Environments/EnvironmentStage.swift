import Archive
import Conda
import Foundation
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
        /// Variables the image needs: `PATH`, `LD_LIBRARY_PATH`, and the plan's prefix variable.
        public var env: [EnvVar]
    }

    /// Installs `plan` for `platform` into `root` (which must not exist yet), for use at the prefix the
    /// plan names. `glibc` is the target's (nil: none, as over `scratch`); `baseEnv` is the base image's
    /// environment, which `PATH` and `LD_LIBRARY_PATH` extend. Warnings and progress go to `log`.
    public static func run(_ plan: EnvironmentPlan, platform: Platform, glibc: String?, baseEnv: [String], root: URL,
                           epoch: Int64, fetcher: Fetcher, log: (String) -> Void) async throws -> Result {
        let solved = try await solve(plan, platform: platform, glibc: glibc, fetcher: fetcher)
        let (file, subdir, virtual, specs, channels, records) = (solved.file, solved.subdir, solved.virtual, solved.specs, solved.channels, solved.records)
        let prefix = plan.resolvedPrefix(hash: file?.definitionHash ?? lockHash(records))
        guard prefix.hasPrefix("/"), !prefix.split(separator: "/").contains("..") else {
            throw PlanError.invalid("environment prefix '\(prefix)' must be an absolute path without '..'")
        }
        let report = try await Installer.install(records, requested: specs, prefix: prefix, root: root, fetcher: fetcher,
                                                 epoch: epoch, variables: file?.variables ?? [:])
        for line in report.warnings { log("warning: " + line) }
        let pip = try await PipStage.run(plan, file: file, records: records, virtual: virtual, platform: platform, root: root,
                                         prefix: prefix, epoch: epoch, fetcher: fetcher, log: log)
        if let output = plan.writeLock {
            let condaLock = LockFile.condaLock(records, platform: subdir, channels: channels, specs: specs)
            try writeAtomically(condaLock + PipLock.condaLockEntries(pip.locked, platform: subdir), to: output)
            try writeAtomically(LockFile.explicit(records, platform: subdir) + PipLock.explicitLines(pip.locked), to: output + ".explicit.txt")
        }
        let path = baseEnv.first { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        let libraries = baseEnv.first { $0.hasPrefix("LD_LIBRARY_PATH=") }.map { ":" + $0.dropFirst(16) } ?? ""
        var env = [EnvVar(key: "PATH", value: "\(prefix)/bin:\(path)")]
        if let variable = plan.prefixVariable { env.append(EnvVar(key: variable, value: prefix)) }
        env.append(EnvVar(key: "LD_LIBRARY_PATH", value: "\(prefix)/lib\(libraries)"))
        return Result(prefix: prefix, root: root, records: records, wheels: pip.installed, env: env)
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
            records = try await CondaRequest(channels: channels, specs: specs, platform: subdir, virtualPackages: virtual).solve(fetcher: fetcher)
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
