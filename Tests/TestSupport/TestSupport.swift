import Foundation

/// A temporary directory removed when the value is dropped.
public final class TemporaryDirectory: @unchecked Sendable {
    public let url: URL
    public var path: String { url.path }

    /// Under `parent` (default: the system's temporary directory).
    public init(_ label: String = "kiln-test", in parent: String? = nil) throws {
        url = (parent.map { URL(fileURLWithPath: $0) } ?? FileManager.default.temporaryDirectory).appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        // One held by a `static let` is never dropped.
        ProcessScratch.removeAtExit(url.path)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    public func file(_ relative: String) -> String { url.appendingPathComponent(relative).path }

    /// Writes `contents` at `relative`, creating parents, with `mode`.
    @discardableResult
    public func write(_ relative: String, _ contents: String, mode: Int = 0o644) throws -> String {
        try write(relative, Data(contents.utf8), mode: mode)
    }

    @discardableResult
    public func write(_ relative: String, _ data: Data, mode: Int = 0o644) throws -> String {
        let target = url.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: target)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: target.path)
        return target.path
    }

    public func mkdir(_ relative: String) throws {
        try FileManager.default.createDirectory(at: url.appendingPathComponent(relative), withIntermediateDirectories: true)
    }

    public func symlink(_ relative: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: file(relative), withDestinationPath: target)
    }
}

/// Directories a test process keeps to its end (fixtures built once behind a `static let`, which is never dropped):
/// removed when it exits, so that test runs do not pile them up in the temporary directory (a few hundred MB a day).
public enum ProcessScratch {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var paths: [String] = []
    nonisolated(unsafe) private static var hooked = false

    public static func removeAtExit(_ path: String) {
        lock.withLock {
            if !hooked {
                hooked = true
                atexit { ProcessScratch.removeAll() }
            }
            paths.append(path)
        }
    }

    private static func removeAll() {
        for path in lock.withLock({ paths }) where FileManager.default.fileExists(atPath: path) {
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}

/// The result of running a program.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs `executable` with `arguments`, waiting for it, with stdout and stderr captured via files
/// (so large outputs cannot deadlock a pipe).
@discardableResult
public func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                directory: String? = nil, stdin: String? = nil) throws -> ProcessResult {
    let scratch = try TemporaryDirectory("kiln-proc")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : try which(executable))
    process.arguments = arguments
    if let environment {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    for name in ["out", "err"] where !FileManager.default.createFile(atPath: scratch.file(name), contents: nil) {
        throw ToolMissing(name: "a writable temporary directory")
    }
    let out = try FileHandle(forWritingTo: scratch.url.appendingPathComponent("out"))
    let err = try FileHandle(forWritingTo: scratch.url.appendingPathComponent("err"))
    process.standardOutput = out
    process.standardError = err
    if let stdin {
        let pipe = Pipe()
        process.standardInput = pipe
        try process.run()
        pipe.fileHandleForWriting.write(Data(stdin.utf8))
        try pipe.fileHandleForWriting.close()
    } else {
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }
    process.waitUntilExit()
    try out.close()
    try err.close()
    return ProcessResult(status: process.terminationStatus,
                         stdout: (try? String(contentsOfFile: scratch.file("out"), encoding: .utf8)) ?? "",
                         stderr: (try? String(contentsOfFile: scratch.file("err"), encoding: .utf8)) ?? "")
}

public struct ToolMissing: Error, CustomStringConvertible {
    public var name: String
    public init(name: String) { self.name = name }
    public var description: String { "\(name) is not on PATH; .ci/run installs it" }
}

/// The absolute path of a program on PATH.
public func which(_ name: String) throws -> String {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
    for directory in directories {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw ToolMissing(name: name)
}

/// The Python with the PyPI peers (py-rattler, py-rattler-build, uv): `KILN_PEER_PYTHON`, else the
/// repository's `.venv-peers` that `.ci/run` creates.
public func peerPython(file: String = #filePath) throws -> String {
    if let explicit = ProcessInfo.processInfo.environment["KILN_PEER_PYTHON"], !explicit.isEmpty { return explicit }
    let venv = URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".venv-peers/bin/python").path
    guard FileManager.default.isExecutableFile(atPath: venv) else { throw ToolMissing(name: ".venv-peers/bin/python (py-rattler peers)") }
    return venv
}

/// fixtures/conda/make_channel.py's channels (`main`, `hostile`), built once per test process.
public func condaFixtureChannels() throws -> String { try CondaChannels.shared.get() }

enum CondaChannels {
    static let shared = Result { () throws -> String in
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-conda-\(getpid())").path
        ProcessScratch.removeAtExit(directory)
        // py-rattler's runtime threads can crash the interpreter at exit now and then (PyGILState_Release);
        // the script is idempotent, so a crashed run is simply made again.
        var made = try run(try peerPython(), [fixturePath("conda/make_channel.py"), directory])
        for _ in 0..<2 where made.status != 0 {
            try? FileManager.default.removeItem(atPath: directory)
            made = try run(try peerPython(), [fixturePath("conda/make_channel.py"), directory])
        }
        guard made.status == 0 else { throw ToolMissing(name: "the conda fixture channel (\(made.stderr.suffix(400)))") }
        return directory
    }
}
