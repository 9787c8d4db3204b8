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
///
/// Made first and started second, so its `stop` can be registered for cleanup before runc is launched: a
/// signal that arrives while runc starts still finds the container and stops it, and a stop that comes
/// first makes `start` refuse.
public final class Container: WatchedProcess, @unchecked Sendable {
    /// The container id, unique to this kiln process.
    public let id: String
    /// runc's state directory for this run (`runc --root`).
    public let stateRoot: String
    /// The file the container's stdout and stderr go to.
    public let logPath: String
    /// The bundle it runs.
    public let bundle: ContainerBundle
    let runc: Runc
    private let lock = NSLock()
    private let stopping = NSLock()
    private var process: Foundation.Process?
    private var stopped = false

    /// A container for `bundle`, not started yet.
    public init(_ bundle: ContainerBundle, runc: Runc, stateRoot: String, logPath: String, id: String = Container.newID()) {
        self.bundle = bundle
        self.runc = runc
        self.stateRoot = stateRoot
        self.logPath = logPath
        self.id = id
    }

    /// A fresh id: `kiln-PID-RANDOM`.
    public static func newID() -> String { "kiln-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))" }

    /// Starts `runc --root STATE run --bundle BUNDLE ID` with standard input closed.
    public func start() throws {
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
        try lock.withLock {
            guard !stopped else { throw CancellationError() }
            do {
                try process.run()
            } catch {
                throw RunError.runtime("cannot start \(runc.executable): \(error.localizedDescription)")
            }
            self.process = process
        }
    }

    /// The exit status of `runc run` (the container's own status) once it has ended; nil before.
    public var exitStatus: Int32? {
        guard let process = lock.withLock({ self.process }), !process.isRunning else { return nil }
        return process.terminationStatus
    }

    /// Kills the container (`runc kill ID KILL`, again until runc knows it), waits for `runc run` to end,
    /// and deletes the container (`runc delete --force`). Safe to call more than once, and from a signal
    /// handler's queue; once called, `start` refuses.
    public func stop() {
        stopping.lock()
        defer { stopping.unlock() }
        let process: Foundation.Process? = lock.withLock {
            defer { stopped = true }
            return stopped ? nil : self.process
        }
        guard let process else { return }
        let deadline = Date().addingTimeInterval(10)
        var killed = false
        while process.isRunning && Date() < deadline {
            if !killed { killed = runc.command(["kill", id, "KILL"], stateRoot: stateRoot).status == 0 }
            usleep(killed ? 20_000 : 100_000)
        }
        runc.command(["delete", "--force", id], stateRoot: stateRoot)
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
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
