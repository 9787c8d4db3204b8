import Foundation

/// The PEP 517 hooks a frontend calls, run one per interpreter process (as pyproject-hooks does): the
/// frontend writes `control/input.json`, the script imports the backend, calls the hook and writes
/// `control/output.json`. Paths in the input are relative to the workspace, so the same files work
/// wherever a runner mounts it.
enum BuildHooks {
    /// The script, written to `<workspace>/hooks.py`. It runs under `-I -S`: no user site, no system
    /// site-packages, no PYTHON* variables; only the build environment and `backend-path` are importable.
    static let script = #"""
    import json, os, sys, traceback

    def main():
        hook = sys.argv[1]
        root = os.path.dirname(os.path.abspath(__file__))
        control = os.path.join(root, "control")
        with open(os.path.join(control, "input.json")) as f:
            data = json.load(f)

        def write(result):
            with open(os.path.join(control, "output.json"), "w") as f:
                json.dump(result, f)

        import site
        site.addsitedir(os.path.join(root, data["site"]))
        project = os.path.join(root, data["project"])
        os.chdir(project)
        sys.path[:0] = [os.path.join(project, p) for p in data["backend_path"]]
        module, _, attribute = data["backend"].partition(":")
        try:
            backend = __import__(module, fromlist=["__name__"])
            for part in attribute.split(".") if attribute else []:
                backend = getattr(backend, part)
        except Exception as error:
            traceback.print_exc()
            write({"error": "cannot import the build backend %s: %s: %s" % (data["backend"], type(error).__name__, error)})
            return
        function = getattr(backend, hook, None)
        if function is None:
            write({"unsupported": True})
            return
        kwargs = {}
        for name, value in data["kwargs"].items():
            kwargs[name] = os.path.join(root, value) if name.endswith("_directory") and value is not None else value
        try:
            value = function(**kwargs)
        except BaseException as error:
            traceback.print_exc()
            if isinstance(error, SystemExit) and error.code in (None, 0):
                error = RuntimeError("the backend exited during %s" % hook)
            write({"error": "%s: %s" % (type(error).__name__, error)})
            return
        write({"return_val": value})

    main()
    """#

    enum Outcome {
        case value(Any)
        /// The backend does not define the hook (optional ones: `get_requires_for_build_wheel`,
        /// `prepare_metadata_for_build_wheel`).
        case unsupported
    }
}

/// One build's directory: the hook script, the unpacked source, the build environment, the hooks'
/// control files and outputs, a home and a temporary directory, and the log.
struct BuildWorkspace {
    let root: String
    /// The project directory, relative to `root`.
    var project = ""
    /// Where the log is kept when a hook fails (the workspace itself is removed).
    var keptLog: String?

    var site: String { root + "/env/site" }
    var scripts: String { root + "/env/bin" }
    var log: String { root + "/build.log" }

    init(root: String) throws {
        self.root = root
        for directory in ["control", "out", "meta", "home", "tmp", "env/site", "env/bin"] {
            try FileManager.default.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
        try Data(BuildHooks.script.utf8).write(to: URL(fileURLWithPath: root + "/hooks.py"))
    }

    /// The variables a build sees: nothing from Kiln's own environment (no credentials, no proxies).
    func environment(mountedAt inside: String) -> [String: String] {
        ["PATH": "\(inside)/env/bin:/usr/local/bin:/usr/bin:/bin", "HOME": "\(inside)/home", "TMPDIR": "\(inside)/tmp",
         "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
         "SOURCE_DATE_EPOCH": "315532800", "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"]
    }

    /// Calls `hook` with `kwargs` (values ending in `_directory` are workspace-relative) and returns its value.
    func call(_ hook: String, kwargs: [String: Any], backend: BuildSystem, runner: any BuildRunner, timeout: Duration,
              what: String) async throws -> BuildHooks.Outcome {
        let input: [String: Any] = ["site": "env/site", "project": project, "backend": backend.backend,
                                    "backend_path": backend.backendPath, "kwargs": kwargs]
        let output = root + "/control/output.json"
        unlink(output)
        try JSONSerialization.data(withJSONObject: input).write(to: URL(fileURLWithPath: root + "/control/input.json"))
        try Data("--- \(hook)\n".utf8).append(toFile: log)
        let outcome = try await runner.run(hook: hook, workspace: root, environment: environment(mountedAt: runner.mountPoint(of: root)),
                                           log: log, timeout: timeout)
        switch outcome {
        case .timedOut:
            throw PipError.build("\(what): \(hook) did not finish within \(timeout.components.seconds) s; kiln stopped it (--build-timeout)\(keep())")
        case let .signalled(signal):
            throw PipError.build("\(what): \(hook) was killed by signal \(signal)\(tail())\(keep())")
        case .exited:
            break
        }
        guard let data = FileManager.default.contents(atPath: output),
              let result = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? [String: Any] else {
            throw PipError.build("\(what): \(hook) ended without an answer (\(outcome))\(tail())\(keep())")
        }
        if let error = result["error"] as? String {
            throw PipError.build("\(what): \(hook) failed: \(error)\(hint())\(tail(error))\(keep())")
        }
        if result["unsupported"] as? Bool == true { return .unsupported }
        return .value(result["return_val"] ?? NSNull())
    }

    /// The log's last meaningful line, when it says more than the error itself.
    func tail(_ already: String = "") -> String {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        guard let last = text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) })
            .last(where: { !$0.isEmpty && !$0.hasPrefix("---") }) else { return "" }
        // A traceback ends with the same "Type: message" the error already gives.
        let message = already.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? already
        if already.contains(last) || (!message.isEmpty && last.hasSuffix(message)) { return "" }
        return " (\(last.prefix(300)))"
    }

    /// Copies the log out of the workspace, which is removed; names where.
    func keep() -> String {
        guard let keptLog else { return "" }
        try? FileManager.default.createDirectory(atPath: (keptLog as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: keptLog)
        guard (try? FileManager.default.copyItem(atPath: log, toPath: keptLog)) != nil else { return "" }
        return "; build log: \(keptLog)"
    }

    /// Why a build that reached for the network failed.
    func hint() -> String {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let signs = ["Network is unreachable", "Temporary failure in name resolution", "Name or service not known",
                     "No matching distribution found", "getaddrinfo failed", "Could not find a version that satisfies",
                     "nodename nor servname", "Failed to establish a new connection"]
        guard signs.contains(where: text.contains) else { return "" }
        return "; the build tried to download, but builds have no network: name what it needs in pyproject.toml [build-system] requires"
    }
}

extension Data {
    func append(toFile path: String) throws {
        guard let handle = FileHandle(forWritingAtPath: path) else {
            try write(to: URL(fileURLWithPath: path))
            return
        }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: self)
    }
}
