import Archive
import Conda
import Foundation
import Progress
import OCI
import Pip
import Plan

/// The pip part of an environment: the environment file's `pip:` lines, the plan's requirement files and
/// the lines a front end added, resolved together against the index (keeping what is already installed)
/// or read from the lock, and installed with `scheme`.
enum PipStage {
    struct Result {
        var installed: [InstalledWheel] = []
        var locked: [LockedWheel] = []
    }

    /// Where the wheels go and which python they are for.
    struct Destination {
        var target: PythonTarget
        var scheme: InstallScheme
        /// Site-packages as staged on disk, where conda may already have put python packages.
        var stagedSitePackages: String
        /// The interpreter sdists are built with.
        var python: BuildPython
    }

    /// Every requirement the plan asks pip for, parsed as one requirements file; nil when there are none.
    static func requirements(_ plan: EnvironmentPlan, file: EnvironmentFile?, log: (String) -> Void) throws -> RequirementsFile? {
        let lines = file?.pip ?? []
        guard !lines.isEmpty || !plan.requirementFiles.isEmpty || !plan.addedRequirements.isEmpty else {
            if plan.indexURL != nil || !plan.extraIndexURLs.isEmpty {
                throw PlanError.invalid("--index-url and --extra-index-url need pip requirements (a pip: section or --requirements)")
            }
            return nil
        }
        let directory = plan.environmentFile.map { ($0 as NSString).deletingLastPathComponent } ?? FileManager.default.currentDirectoryPath
        var requirements = try RequirementsFile(text: lines.joined(separator: "\n"), name: "\(plan.environmentFile ?? "environment") pip:",
                                                directory: directory.isEmpty ? "." : directory)
        for path in plan.requirementFiles { try requirements.include(path) }
        for added in plan.addedRequirements {
            let name = try Requirement(parsing: added.line).key
            guard !requirements.entries.contains(where: { $0.requirement.key == name }) else { continue }
            log("pip: adding \(added.line): \(added.reason)")
            try requirements.include(text: added.line, name: "added by kiln", directory: directory.isEmpty ? "." : directory)
        }
        if let url = plan.indexURL { requirements.indexURL = url }
        requirements.extraIndexURLs += plan.extraIndexURLs
        return requirements
    }

    static func run(_ plan: EnvironmentPlan, requirements: RequirementsFile?, destination: Destination, subdir: String, epoch: Int64,
                    fetcher: Fetcher, sandbox: BuildSandbox?, deferred: DeferredMembers?, log: (String) -> Void) async throws -> Result {
        var lockedWheels: [LockedWheel] = []
        if let locked = plan.lockedFile, let data = FileManager.default.contents(atPath: locked) {
            lockedWheels = try PipLock.read(String(decoding: data, as: UTF8.self), platform: subdir, what: locked)
            if lockedWheels.isEmpty, requirements != nil {
                throw PlanError.invalid("\(locked) has no pip wheels, but \(plan.environmentFile ?? "the environment") has a pip: section; write the lock again")
            }
        }
        guard let requirements = requirements ?? (lockedWheels.isEmpty ? nil : RequirementsFile()) else { return Result() }
        let target = destination.target
        let installed = InstalledDistribution.scan(sitePackages: destination.stagedSitePackages)
        var builds: SourceBuilds?
        if plan.buildsSdists, let sandbox {
            let python = destination.python
            builds = SourceBuilds(timeout: .seconds(plan.buildTimeout)) { try await sandbox(python) }
        }
        let job = PipJob(file: requirements, target: target, installed: installed, cacheDirectory: fetcher.cacheDirectory, http: fetcher.http,
                         builds: builds, log: { _ in })
        var installer = WheelInstaller(scheme: destination.scheme, epoch: Date(timeIntervalSince1970: TimeInterval(epoch)))
        installer.deferred = deferred
        if !lockedWheels.isEmpty {
            log("pip: installing \(lockedWheels.count) locked wheels for \(target.python)")
            let wheels = try await job.install(locked: lockedWheels, requested: Set(requirements.entries.map(\.requirement.key)), installer: installer)
            return Result(installed: wheels, locked: lockedWheels)
        }
        let resolution = try await Progress.step("resolve pip requirements (\(requirements.entries.count) lines)") { _ in try await job.resolve() }
        for warning in resolution.warnings { log("warning: pip: " + warning) }
        let kept = resolution.picks.filter { if case .installed = $0.candidate.origin { return true } else { return false } }
        log("pip: resolved \(resolution.picks.count) distributions for cp\(target.major)\(target.minor)"
            + (kept.isEmpty ? "" : " (\(kept.count) already installed by conda)"))
        let locked = try await job.locked(resolution)
        let wheels = try await job.install(resolution, installer: installer)
        return Result(installed: wheels, locked: locked)
    }

    /// Wheels for the conda environment's python, installed into the staged prefix.
    static func condaDestination(records: [PackageRecord], virtual: [PackageRecord], platform: Platform, root: URL, prefix: String) throws -> Destination {
        guard let python = records.first(where: { $0.name == "python" }) else {
            throw PlanError.invalid("the pip requirements need python among the conda dependencies, to know which wheels fit")
        }
        let glibc = virtual.first { $0.name == "__glibc" }.flatMap { PythonTarget.glibc(parsing: $0.version.description) }
        let target = PythonTarget(python: try PythonVersion(python.version.description), glibc: glibc,
                                  machine: PythonTarget.machine(forArchitecture: platform.architecture))
        return Destination(target: target, scheme: .environment(root: root.path, prefix: prefix, target: target),
                           stagedSitePackages: root.path + "/" + target.sitePackages,
                           python: BuildPython(interpreter: prefix + "/bin/python", stagedRoot: root.path, prefix: prefix, version: target.python))
    }
}
