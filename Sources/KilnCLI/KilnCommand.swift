import OCI
import ArgumentParser
import Archive
import AzureML
import Conda
import Foundation
import HTTP
import Kiln
import Pip
import Progress
import Registry

/// The `kiln` command.
public struct KilnCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Build reproducible OCI images for ML models, with no daemon.",
        version: KilnVersion.current,
        subcommands: [BuildCommand.self, PullCommand.self, PushCommand.self, TagsCommand.self, EnvCommand.self, PipCommand.self,
                      InspectCommand.self, DiffCommand.self, SBOMCommand.self, RunCommand.self]
    )

    public init() {}

    /// Runs kiln with `arguments` and returns the exit code. Kiln's own errors print as one line,
    /// `kiln: error: …`; usage errors print ArgumentParser's usage text.
    public static func run(_ arguments: [String]) async -> Int32 {
        var command: ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            return usage(error)
        }
        let console = (command as? ReportsProgress)?.consoleOptions
        let interval = ProcessInfo.processInfo.environment["KILN_PROGRESS_INTERVAL"].flatMap(Double.init) ?? 5
        let display = ProgressDisplay(mode: ProgressDisplay.mode(quiet: console?.quiet ?? false, requested: console?.progress), interval: interval)
        Console.display = display
        defer {
            display.stop()
            Console.display = nil
        }
        do {
            try await Progress.$reporter.withValue(display) {
                if var asyncCommand = command as? AsyncParsableCommand {
                    try await asyncCommand.run()
                } else {
                    try command.run()
                }
            }
            display.stop()
            return 0
        } catch let error as KilnReportable {
            display.stop()
            if let signal = Cleanup.interruption() { return 128 + signal }
            report(error.reportText)
            return 1
        } catch let error as CleanExit {
            return usage(error)
        } catch let error as ValidationError {
            return usage(error)
        } catch let error as ExitCode {
            return error.rawValue
        } catch {
            display.stop()
            // `--help` parses into ArgumentParser's help command, whose run throws its own (internal) error:
            // that is usage text, not a failure.
            if String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") { return usage(error) }
            // Anything else (a library below Kiln, the system) still gets one line, never a type dump.
            if let signal = Cleanup.interruption() { return 128 + signal }
            report(String(describing: error))
            return 1
        }
    }

    /// ArgumentParser's own text: usage, help, version.
    static func usage(_ error: Error) -> Int32 {
        let message = fullMessage(for: error)
        let code = exitCode(for: error).rawValue
        if !message.isEmpty {
            let handle = code == 0 ? FileHandle.standardOutput : FileHandle.standardError
            handle.write(Data((message + "\n").utf8))
        }
        return code
    }

    static func report(_ text: String) {
        FileHandle.standardError.write(Data("kiln: error: \(oneLine(text))\n".utf8))
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

/// Errors that Kiln reports itself, as one line.
protocol KilnReportable: Error { var reportText: String { get } }
extension OCIError: KilnReportable { var reportText: String { description } }
extension ArchiveError: KilnReportable { var reportText: String { description } }
extension PlanError: KilnReportable { var reportText: String { description } }
extension ImageError: KilnReportable { var reportText: String { description } }
extension AzureMLError: KilnReportable { var reportText: String { description } }
extension RegistryError: KilnReportable {
    /// The library's advice, with the flags that carry it out.
    var reportText: String {
        switch self {
        case let .insecureRegistry(host): return description + " (--insecure-registry \(host))"
        case let .network(_, detail) where detail.contains("TLS certificate is not trusted"): return description + " (--ca-file)"
        default: return description
        }
    }
}
extension HTTPError: KilnReportable { var reportText: String { description } }
extension CondaError: KilnReportable { var reportText: String { description } }
extension PipError: KilnReportable { var reportText: String { description } }
extension RunError: KilnReportable {
    /// The library's advice, with the flag that carries it out.
    var reportText: String {
        switch self {
        case .noRoute: return description + " (--route PORT:PATH)"
        default: return description
        }
    }
}

/// A library error from the value of one flag, reported with that flag's name.
struct FlagError: KilnReportable {
    var flag: String
    var underlying: Error
    var reportText: String { "\(flag): \((underlying as? KilnReportable)?.reportText ?? "\(underlying)")" }

    /// Runs `body`, naming `flag` in any error it throws.
    static func reading<T>(_ flag: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw FlagError(flag: flag, underlying: error) }
    }
}

/// `--ca-file`, else `$SSL_CERT_FILE`, checked; the error names whichever was used.
func caFile(flag: String?) throws -> String? {
    do {
        return try HTTPClients.caFile(explicit: flag)
    } catch HTTPError.caFile(let path, fromEnvironment: false) {
        throw PlanError.invalid("--ca-file '\(path)': no such readable file")
    }
}
