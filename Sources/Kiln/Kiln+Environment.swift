import Conda
import Environments
import Foundation
import Images
import OCI
import Pip
import Plan

extension Kiln {
    /// Installs `environment` (conda dependencies, then its `pip:` lines) into `directory` on this
    /// machine, which must not exist yet, for `platform` with the given glibc. Files are written for the
    /// prefix `environment.prefix` (default: `directory` itself). The directory appears only when the
    /// whole environment is in.
    public static func installEnvironment(_ environment: EnvironmentPlan, into directory: String, platform: Platform, glibc: String?,
                                          options: BuildOptions = BuildOptions()) async throws -> EnvironmentStage.Result {
        let root = URL(fileURLWithPath: directory).standardizedFileURL
        guard !FileManager.default.fileExists(atPath: root.path) else {
            throw ImageError.output("\(root.path) already exists; an environment is installed into a new directory")
        }
        var environment = environment
        if environment.prefix == nil { environment.prefix = root.path }
        let location = ImageLocation.layout(path: root.path, tag: nil)
        return try await Staging.around(location) { work in
            let staged = work.appendingPathComponent("prefix")
            // sdists are built with the environment's own python, here on this machine.
            let sandbox: BuildSandbox = { python in
                let staged = python.stagedRoot + python.interpreter.dropFirst(python.prefix.count)
                return try await HostPython.find(for: python.version, explicit: String(staged))
            }
            var result = try await EnvironmentStage.run(environment, platform: platform, glibc: glibc, baseEnv: [], root: staged,
                                                        epoch: 0, fetcher: options.fetcher, sandbox: sandbox, log: options.log)
            try Atomic.rename(staged.path, to: root.path)
            result.root = root
            return result
        }
    }

    /// Solves `environment`'s conda dependencies for `platform` and `glibc`, installing nothing.
    public static func solveEnvironment(_ environment: EnvironmentPlan, platform: Platform, glibc: String?,
                                        options: BuildOptions = BuildOptions()) async throws -> [PackageRecord] {
        try await EnvironmentStage.solve(environment, platform: platform, glibc: glibc, fetcher: options.fetcher).records
    }
}
