import Conda
import Foundation
import OCI
import Pip
import Plan

/// The `pip:` section of an environment, after conda: resolved against the index and the python
/// packages conda installed (kept as they are), or read from the lock; installed into the staged prefix.
enum PipStage {
    struct Result {
        var installed: [InstalledWheel] = []
        var locked: [LockedWheel] = []
    }

    static func run(_ plan: EnvironmentPlan, file: EnvironmentFile?, records: [PackageRecord], virtual: [PackageRecord], platform: Platform,
                    root: URL, prefix: String, epoch: Int64, fetcher: Fetcher, log: (String) -> Void) async throws -> Result {
        let lines = file?.pip ?? []
        var lockedWheels: [LockedWheel] = []
        if let locked = plan.lockedFile, let data = FileManager.default.contents(atPath: locked) {
            let subdir = try CondaRequest.subdir(os: platform.os, architecture: platform.architecture)
            lockedWheels = try PipLock.read(String(decoding: data, as: UTF8.self), platform: subdir, what: locked)
            if lockedWheels.isEmpty, !lines.isEmpty {
                throw PlanError.invalid("\(locked) has no pip wheels, but \(plan.environmentFile ?? "the environment") has a pip: section; write the lock again")
            }
        }
        guard !lines.isEmpty || !lockedWheels.isEmpty else { return Result() }
        guard let python = records.first(where: { $0.name == "python" }) else {
            throw PlanError.invalid("the pip: section needs python among the conda dependencies, to know which wheels fit")
        }
        let glibc = virtual.first { $0.name == "__glibc" }.flatMap { PythonTarget.glibc(parsing: $0.version.description) }
        let target = PythonTarget(python: try PythonVersion(python.version.description), glibc: glibc,
                                  machine: PythonTarget.machine(forArchitecture: platform.architecture))
        let directory = plan.environmentFile.map { ($0 as NSString).deletingLastPathComponent } ?? FileManager.default.currentDirectoryPath
        let requirements = try RequirementsFile(text: lines.joined(separator: "\n"), name: "\(plan.environmentFile ?? "environment") pip:",
                                                directory: directory.isEmpty ? "." : directory)
        let installed = InstalledDistribution.scan(sitePackages: root.path + "/" + target.sitePackages)
        let job = PipJob(file: requirements, target: target, installed: installed, cacheDirectory: fetcher.cacheDirectory, http: fetcher.http,
                         log: { _ in })
        let scheme = InstallScheme.environment(root: root.path, prefix: prefix, target: target)
        let installer = WheelInstaller(scheme: scheme, epoch: Date(timeIntervalSince1970: TimeInterval(epoch)))
        if !lockedWheels.isEmpty {
            log("pip: installing \(lockedWheels.count) locked wheels for \(target.python)")
            let wheels = try await job.install(locked: lockedWheels, requested: Set(requirements.entries.map(\.requirement.key)), installer: installer)
            return Result(installed: wheels, locked: lockedWheels)
        }
        let resolution = try await job.resolve()
        let kept = resolution.picks.filter { if case .installed = $0.candidate.origin { return true } else { return false } }
        log("pip: resolved \(resolution.picks.count) distributions for cp\(target.major)\(target.minor) (\(kept.count) already installed by conda)")
        let locked = try await job.locked(resolution)
        let wheels = try await job.install(resolution, installer: installer)
        return Result(installed: wheels, locked: locked)
    }
}
