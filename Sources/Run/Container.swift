import Foundation

/// A process whose end a probe watches: the probe stops waiting as soon as it has exited.
public protocol WatchedProcess: Sendable {
    /// The exit status once the process has ended; nil while it runs.
    var exitStatus: Int32? { get }
    /// The last lines of its output, joined into one line for an error message.
    func logTail(lines: Int) -> String
}

/// A container run in the foreground by `runc run`, its output (and runc's) going to a log file. runc
/// stays its parent: when the container's process ends, `runc run` ends with its status.
public final class Container: WatchedProcess, @unchecked Sendable {
    /// The container id, unique to this kiln process.
    public let id: String
    /// runc's state directory for this run (`runc --root`).
    public let stateRoot: String
    /// The file the container's stdout and stderr go to.
    public let logPath: String
    let runc: Runc
    private let process: Foundation.Process
    private let lock = NSLock()
    private var stopped = false

    private init(id: String, stateRoot: String, logPath: String, runc: Runc, process: Foundation.Process) {
        self.id = id
        self.stateRoot = stateRoot
        self.logPath = logPath
        self.runc = runc
        self.process = process
    }

    /// A fresh id: `kiln-PID-RANDOM`.
    public static func newID() -> String { "kiln-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))" }

    /// Starts `runc --root STATE run --bundle BUNDLE ID` with standard input closed.
    public static func start(_ bundle: ContainerBundle, runc: Runc, stateRoot: String, logPath: String,
                             id: String = newID()) throws -> Container {
        do {
            try FileManager.default.createDirectory(atPath: stateRoot, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw RunError.runtime("cannot create the state directory \(stateRoot): \(error.localizedDescription)")
        }
        guard FileManager.default.createFile(atPath: logPath, contents: nil), let log = FileHandle(forWritingAtPath: logPath) else {
            throw RunError.runtime("cannot create the log file \(logPath)")
        }
        defer { try? log.close() }
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: runc.executable)
        process.arguments = runc.runArguments(stateRoot: stateRoot, bundle: bundle.path, id: id)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        do {
            try process.run()
        } catch {
            throw RunError.runtime("cannot start \(runc.executable): \(error.localizedDescription)")
        }
        return Container(id: id, stateRoot: stateRoot, logPath: logPath, runc: runc, process: process)
    }

    public var exitStatus: Int32? {
        process.isRunning ? nil : process.terminationStatus
    }

    /// Kills the container (`runc kill ID KILL`), waits for `runc run` to end, and deletes the container
    /// (`runc delete --force`). Safe to call more than once and from a signal handler's queue.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        if process.isRunning {
            runc.command(["kill", id, "KILL"], stateRoot: stateRoot)
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(20_000) }
        }
        runc.command(["delete", "--force", id], stateRoot: stateRoot)
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
    }

    public func logTail(lines: Int = 10) -> String {
        Self.tail(of: logPath, lines: lines)
    }

    /// The last `lines` non-empty lines of a file (its last 16 KiB), each cut to 300 characters,
    /// joined with ` | `; `(no output)` when there are none.
    static func tail(of path: String, lines: Int) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "(no output)" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 16384 ? size - 16384 : 0)
        let data = (try? handle.readToEnd()) ?? Data()
        let text = String(decoding: data, as: UTF8.self)
        let kept = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .suffix(lines)
            .map { $0.count > 300 ? String($0.prefix(300)) + "…" : $0 }
        return kept.isEmpty ? "(no output)" : kept.joined(separator: " | ")
    }
}
