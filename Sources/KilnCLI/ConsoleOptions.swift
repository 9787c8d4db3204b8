import ArgumentParser
import Foundation

/// How much kiln says on stderr while it works. Every command has these flags.
struct ConsoleOptions: ParsableArguments {
    @Flag(name: [.short, .long], help: "Print errors only: no progress, notes or log lines.")
    var quiet = false
    @Option(help: ArgumentHelp("Progress display: live (one redrawn line per step, the default on a terminal), plain (a line every few seconds and one per finished step, the default otherwise) or quiet.",
                               valueName: "live|plain|quiet"))
    var progress: ProgressDisplay.Mode?
}

extension ProgressDisplay.Mode: ExpressibleByArgument {}

/// Commands whose stderr follows `ConsoleOptions`.
protocol ReportsProgress {
    var consoleOptions: ConsoleOptions { get }
}

/// Where the CLI's stderr lines go while a command runs: through the progress display, so a note never
/// lands in the middle of a redrawn line, and not at all with `--quiet`.
enum Console {
    nonisolated(unsafe) static var display: ProgressDisplay?

    /// A note or log line, `kiln: ` already in front.
    static func line(_ text: String) {
        if let display {
            if display.mode != .quiet { display.line(text) }
        } else {
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }
}
