import Foundation

/// Where a PEP 517 hook runs: an interpreter, and a sandbox around a workspace directory. The workspace
/// holds the hook script, the unpacked source, the build environment and the output directory; a runner
/// may show it to the build under another path (`mountPoint`).
public protocol BuildRunner: Sendable {
    /// The interpreter and where it runs, for messages: "/usr/bin/python3.11 on the host".
    var label: String { get }
    /// The interpreter's path as the build sees it (the shebang of the build environment's scripts).
    var interpreter: String { get }
    /// Where the build sees the workspace.
    func mountPoint(of workspace: String) -> String
    /// Runs `interpreter -I -S <workspace>/hooks.py <hook>` with `environment`, output appended to `log`.
    func run(hook: String, workspace: String, environment: [String: String], log: String, timeout: Duration) async throws -> Subprocess.Outcome
}

/// A CPython on this machine, which must be the target's major.minor version. The build runs in its own
/// network namespace when `unshare` allows it (root, or user namespaces), so a build that downloads fails
/// here as it would inside an image build.
public struct HostPython: BuildRunner {
    public let interpreter: String
    public let version: PythonVersion
    let unshare: [String]

    public var label: String { "\(interpreter) (Python \(version)) on this machine" }

    public func mountPoint(of workspace: String) -> String { workspace }

    public func run(hook: String, workspace: String, environment: [String: String], log: String, timeout: Duration) async throws -> Subprocess.Outcome {
        try await Subprocess.run(unshare + [interpreter, "-I", "-S", workspace + "/hooks.py", hook], environment: environment,
                                 log: log, timeout: timeout)
    }

    /// `explicit` (`--build-python`: a path or a name on PATH), else `python3.X` then `python3` on PATH;
    /// each must report the target's major.minor.
    public static func find(for target: PythonVersion, explicit: String? = nil,
                            path: String = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") async throws -> HostPython {
        let major = target.release.first ?? 3, minor = target.release.count > 1 ? target.release[1] : 0
        let names = explicit.map { [$0] } ?? ["python\(major).\(minor)", "python\(major)"]
        var seen: [String] = []
        for name in names {
            guard let executable = locate(name, path: path) else { continue }
            guard let (real, version) = try? await probe(executable) else {
                seen.append("\(executable) (does not run)")
                continue
            }
            if version.release.prefix(2) == [major, minor] {
                return HostPython(interpreter: real, version: version, unshare: await sandbox())
            }
            seen.append("\(executable) is Python \(version)")
        }
        let looked = explicit.map { "--build-python \($0)" } ?? names.joined(separator: ", ") + " on PATH"
        throw PipError.build("building a source distribution needs a Python \(major).\(minor) interpreter: looked for \(looked)"
                             + (seen.isEmpty ? ", found none" : "; \(seen.joined(separator: "; "))")
                             + "; give one with --build-python, or turn builds off with --no-build")
    }

    static func locate(_ name: String, path: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The real executable behind `executable` (past shims and symlinks) and its version.
    static func probe(_ executable: String) async throws -> (String, PythonVersion) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-python-probe-\(UUID().uuidString)").path
        defer { unlink(log) }
        let script = "import sys, platform; sys.stdout.write(sys.executable + '\\n' + platform.python_version() + '\\n')"
        let outcome = try await Subprocess.run([executable, "-I", "-S", "-c", script], environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"],
                                               log: log, timeout: .seconds(30))
        let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        guard outcome == .exited(0), lines.count >= 2, lines[0].hasPrefix("/") else { throw PipError.build("\(executable) does not run") }
        return (lines[0], try PythonVersion(lines[1]))
    }

    /// `unshare --net` when it works here.
    static func sandbox() async -> [String] {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-unshare-probe-\(UUID().uuidString)").path
        defer { unlink(log) }
        for candidate in [["/usr/bin/unshare", "--net", "--"], ["/usr/bin/unshare", "--net", "--map-root-user", "--"]] {
            guard FileManager.default.isExecutableFile(atPath: candidate[0]) else { return [] }
            if (try? await Subprocess.run(candidate + ["/bin/true"], environment: [:], log: log, timeout: .seconds(10))) == .exited(0) {
                return candidate
            }
        }
        return []
    }
}
