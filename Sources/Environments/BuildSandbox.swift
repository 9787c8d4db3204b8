import Pip

/// The python an environment's sdists are built with: its path in the image, and where the environment
/// being installed is on this machine (`stagedRoot`, which the image will have at `prefix`).
public struct BuildPython: Sendable {
    public var interpreter: String
    public var stagedRoot: String
    public var prefix: String
    /// Its version, which the runner's interpreter must have.
    public var version: PythonVersion
}

/// Makes the runner for an environment's sdist builds, once its python is installed: `kiln build` runs
/// them in the image under runc, `kiln env install` with the environment's own python on this machine.
/// Called only when a build is needed.
public typealias BuildSandbox = @Sendable (BuildPython) async throws -> any BuildRunner
