import Conda
import Foundation
import Images
import OCI
import Pip

extension Kiln {
    /// Resolves the requirements of `job` against its indexes and the distributions already installed.
    public static func resolveRequirements(_ job: PipJob) async throws -> Resolution {
        try await job.resolve()
    }

    /// Installs `job`'s requirements into `directory` (which must not exist yet), as `pip install
    /// --target` does: resolved, or exactly the wheels of `lockedFile`. Scripts name `pythonPath`. With
    /// `writeLock`, the resolved wheels are written there as conda-lock v1 once every wheel is in. The
    /// directory appears only when the install is complete. Resolution warnings (a requested package held
    /// back by a distribution that cannot be installed) go to `warn`.
    public static func installRequirements(_ job: PipJob, into directory: String, pythonPath: String, platform: Platform,
                                           lockedFile: String? = nil, writeLock: String? = nil,
                                           warn: (String) -> Void = { _ in }) async throws -> [InstalledWheel] {
        let subdir = try CondaRequest.subdir(os: platform.os, architecture: platform.architecture)
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path
        guard !FileManager.default.fileExists(atPath: root) else {
            throw PipError.install("\(root) already exists; requirements are installed into a new directory")
        }
        return try await Staging.around(.layout(path: root, tag: nil)) { work in
            let staging = work.appendingPathComponent("target").path
            var scheme = InstallScheme(sitePackages: staging, scripts: staging + "/bin", headers: staging + "/include", data: staging, python: pythonPath)
            scheme.pythonVersion = job.target.python
            let installer = WheelInstaller(scheme: scheme, epoch: Date(timeIntervalSince1970: 0))
            let installed: [InstalledWheel]
            if let lockedFile {
                guard let data = FileManager.default.contents(atPath: lockedFile) else { throw PipError.requirementsFile("cannot read \(lockedFile)") }
                let wheels = try PipLock.read(String(decoding: data, as: UTF8.self), platform: subdir, what: lockedFile)
                installed = try await job.install(locked: wheels, requested: Set(job.file.entries.map(\.requirement.key)), installer: installer)
            } else {
                let resolution = try await job.resolve()
                for warning in resolution.warnings { warn(warning) }
                installed = try await job.install(resolution, installer: installer)
                if let writeLock {
                    let text = "version: 1\npackage:\n" + PipLock.condaLockEntries(try await job.locked(resolution), platform: subdir)
                    try Data(text.utf8).write(to: URL(fileURLWithPath: writeLock), options: .atomic)
                }
            }
            try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
            try Atomic.rename(staging, to: root)
            return installed
        }
    }
}
