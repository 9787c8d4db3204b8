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
