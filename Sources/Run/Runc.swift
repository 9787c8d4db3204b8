import Foundation

/// The runc executable and the short commands kiln sends it (`kill`, `delete`, `list`), each against
/// one state directory (`runc --root`), so kiln's containers never mix with anyone else's.
public struct Runc: Sendable {
    /// The executable's path.
    public var executable: String

    /// A runc at `executable`.
    public init(executable: String) {
        self.executable = executable
    }

    /// Finds runc on `path` (default: $PATH), then in the sbin directories a normal user's PATH often
    /// lacks, where Debian installs it.
    public static func locate(path: String? = ProcessInfo.processInfo.environment["PATH"],
                              fallbacks: [String] = ["/usr/local/sbin", "/usr/sbin", "/sbin"]) throws -> Runc {
        let directories = (path ?? "").split(separator: ":").map(String.init) + fallbacks
        for directory in directories where !directory.isEmpty {
            let candidate = directory + "/runc"
            if FileManager.default.isExecutableFile(atPath: candidate) { return Runc(executable: candidate) }
        }
        throw RunError.runcNotFound
    }

    /// The arguments of `runc --root STATE run --bundle BUNDLE ID`.
    func runArguments(stateRoot: String, bundle: String, id: String) -> [String] {
        ["--root", stateRoot, "run", "--bundle", bundle, id]
    }

    /// Runs `runc --root STATE ARGS…`, waits at most `seconds`, and returns its exit status and output
    /// (nil status when it had to be killed). Output goes through a file, so nothing can block on a pipe.
    @discardableResult
    func command(_ arguments: [String], stateRoot: String, seconds: Double = 30) -> (status: Int32?, output: String) {
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("kiln-runc-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out").path
        guard FileManager.default.createFile(atPath: outputPath, contents: nil),
              let output = FileHandle(forWritingAtPath: outputPath) else {
            return (nil, "cannot write \(outputPath)")
        }
        defer {
            try? output.close()
            unlink(outputPath)
        }
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--root", stateRoot] + arguments
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return (nil, "cannot start \(executable): \(error.localizedDescription)") }
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return (nil, "runc \(arguments.first ?? "") did not finish within \(Int(seconds)) s")
        }
        process.waitUntilExit()
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return (process.terminationStatus, text)
    }
}
