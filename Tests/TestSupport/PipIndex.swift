import Foundation

/// A loopback package index (fixtures/pypi/serve_index.py) over directories of wheels, for one test.
public final class PipIndex: @unchecked Sendable {
    public let port: Int
    private let directory: TemporaryDirectory
    private let process: Process

    /// `options` are serve_index.py flags: --html-only, --no-metadata, --no-range, --auth U:P, --corrupt F, --yank F.
    public init(directories: [String], options: [String] = []) throws {
        directory = try TemporaryDirectory("pip-index")
        process = Process()
        process.executableURL = URL(fileURLWithPath: pythonPath())
        process.arguments = [fixturePath("pypi/serve_index.py"), "--port-file", directory.file("port"), "--log", directory.file("requests.log")]
            + directories.flatMap { ["--dir", $0] } + options
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        _ = FileManager.default.createFile(atPath: directory.file("stderr"), contents: nil)
        process.standardError = FileHandle(forWritingAtPath: directory.file("stderr"))
        try process.run()
        let deadline = Date().addingTimeInterval(15)
        while !FileManager.default.fileExists(atPath: directory.file("port")) {
            guard Date() < deadline, process.isRunning else {
                throw ToolMissing(name: "a working package index (\((try? String(contentsOfFile: directory.file("stderr"), encoding: .utf8)) ?? ""))")
            }
            usleep(50_000)
        }
        port = Int((try? String(contentsOfFile: directory.file("port"), encoding: .utf8)) ?? "") ?? 0
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// `http://127.0.0.1:PORT/simple`, with `user:password@` when given.
    public func url(credentials: String? = nil) -> String {
        "http://\(credentials.map { $0 + "@" } ?? "")127.0.0.1:\(port)/simple"
    }

    /// Request lines: `METHOD PATH range=… auth=yes|no`.
    public func requests() -> [String] {
        ((try? String(contentsOfFile: directory.file("requests.log"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
}

/// The realistic ML wheel set, downloaded once from PyPI by fixtures/pypi/fill_index.sh (cached in
/// `$KILN_TEST_PYPI` or ~/.cache/kiln-tests/pypi); the directory of wheels.
public func mlWheels() throws -> String { try MLWheels.shared.get() }

enum MLWheels {
    static let shared = Result { () throws -> String in
        let venv = URL(fileURLWithPath: try peerPython()).deletingLastPathComponent().deletingLastPathComponent().path
        let filled = try run("/bin/bash", [fixturePath("pypi/fill_index.sh"), venv])
        guard filled.status == 0, let last = filled.stdout.split(separator: "\n").last else {
            throw ToolMissing(name: "the ML wheel set (fixtures/pypi/fill_index.sh: \(filled.stderr.suffix(600)))")
        }
        return String(last) + "/wheels"
    }
}

/// fixtures/pypi/make_wheels.py's wheels (`good`, `evil`), built once per test process.
public func syntheticWheels() throws -> String { try SyntheticWheels.shared.get() }

enum SyntheticWheels {
    static let shared = Result { () throws -> String in
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-wheels-\(getpid())").path
        ProcessScratch.removeAtExit(directory)
        let made = try run(pythonPath(), [fixturePath("pypi/make_wheels.py"), directory])
        guard made.status == 0 else { throw ToolMissing(name: "the synthetic wheels (\(made.stderr.suffix(400)))") }
        return directory
    }
}

/// uv from the peer venv.
public func uvPath() throws -> String {
    let uv = URL(fileURLWithPath: try peerPython()).deletingLastPathComponent().appendingPathComponent("uv").path
    guard FileManager.default.isExecutableFile(atPath: uv) else { throw ToolMissing(name: ".venv-peers/bin/uv") }
    return uv
}

/// The azureml-defaults tree with the fusepy sdist and its build requirements, downloaded once from PyPI by
/// fixtures/pypi/fill_sdist_index.sh (cached in `$KILN_TEST_PYPI_SDIST` or ~/.cache/kiln-tests/pypi-sdist);
/// the directory holding `files/` and uv's `pins.txt`.
public func azureMLSdistIndex() throws -> String { try AzureMLSdists.shared.get() }

enum AzureMLSdists {
    static let shared = Result { () throws -> String in
        let venv = URL(fileURLWithPath: try peerPython()).deletingLastPathComponent().deletingLastPathComponent().path
        let filled = try run("/bin/bash", [fixturePath("pypi/fill_sdist_index.sh"), venv])
        guard filled.status == 0, let last = filled.stdout.split(separator: "\n").last else {
            throw ToolMissing(name: "the azureml sdist index (fixtures/pypi/fill_sdist_index.sh: \(filled.stderr.suffix(600)))")
        }
        return String(last)
    }
}

/// The debian-python base layout (base-images/debian-python.sh, built once per machine) and a conda channel
/// whose python is that base's own (fixtures/sklearn-diabetes/make_python_channel.py, once per test process).
public func debianPythonChannel() throws -> (layout: String, channel: String) { try DebianPythonChannel.shared.get() }

enum DebianPythonChannel {
    static let shared = Result { () throws -> (layout: String, channel: String) in
        let base = try run("/bin/bash", [fixturePath("../base-images/debian-python.sh")])
        guard base.status == 0, let layout = base.stdout.split(separator: "\n").last.map(String.init) else {
            throw ToolMissing(name: "the debian-python base (\(base.stderr.suffix(400)))")
        }
        let channel = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-python-channel-\(getpid())").path
        ProcessScratch.removeAtExit(channel)
        let made = try run(try peerPython(), [fixturePath("sklearn-diabetes/make_python_channel.py"), layout, channel])
        guard made.status == 0 else { throw ToolMissing(name: "the python conda channel (\(made.stderr.suffix(400)))") }
        return (layout, channel)
    }
}

/// Every file under `root`: relative path → digest and exec bit, with the differences between Kiln's and
/// uv's installs that the README documents taken out: uv's `.lock`, INSTALLER's text, REQUESTED (uv marks
/// every distribution), the INSTALLER/REQUESTED lines and order of RECORD, and script shebangs (the
/// interpreter path, so also the scripts' RECORD hashes), and the RECORD line of the empty `uv_build.json`
/// uv adds to a wheel it built.
public func installedTree(_ root: String) throws -> [String: String] {
    var result: [String: String] = [:]
    let enumerator = FileManager.default.enumerator(atPath: root)
    while let relative = enumerator?.nextObject() as? String {
        let path = root + "/" + relative
        var info = stat()
        guard lstat(path, &info) == 0 else { continue }
        if info.st_mode & S_IFMT == S_IFLNK {
            result[relative] = "-> " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?")
            continue
        }
        if info.st_mode & S_IFMT == S_IFDIR { result[relative + "/"] = "dir"; continue }
        let name = (relative as NSString).lastPathComponent
        if relative == ".lock" || name == "REQUESTED" { continue }
        if name == "INSTALLER" { result[relative] = "installer"; continue }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var text: String
        if name == "RECORD" {
            text = String(decoding: data, as: UTF8.self).split(separator: "\n")
                .filter { !$0.contains("/INSTALLER,") && !$0.contains("/REQUESTED,") && !$0.contains("/uv_build.json,") }
                .map { $0.contains("bin/") ? String($0.split(separator: ",")[0]) : String($0) }.sorted().joined(separator: "\n")
        } else if relative.hasPrefix("bin/"), data.starts(with: Data("#!".utf8)) {
            text = String(decoding: data, as: UTF8.self).split(separator: "\n", maxSplits: 1).dropFirst().joined()
        } else {
            text = "\(data.count):\(data.hashValue)"
        }
        text += info.st_mode & 0o111 != 0 ? " +x" : ""
        result[relative] = text
    }
    return result
}
