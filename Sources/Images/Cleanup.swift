import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Steps that must run exactly once however a job ends: normally, by an error, or by Ctrl-C or SIGTERM.
/// A build's staging directory or a container left running would outlive the process, so the steps
/// (remove the staging directory, stop the container) also run from a signal handler, which then exits
/// with 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM.
public final class Cleanup: @unchecked Sendable {
    private let lock = NSLock()
    private var steps: [@Sendable () -> Void] = []
    private var done = false
    private var sources: [DispatchSourceSignal] = []
    private var previous: [Int32: sighandler_t?] = [:]

    /// No steps yet, and no signal handlers.
    public init() {}

    /// Adds a step; steps run last-added first, so a container stops before its directory goes.
    /// Added after the steps ran, it runs at once.
    public func add(_ step: @escaping @Sendable () -> Void) {
        lock.lock()
        if done {
            lock.unlock()
            step()
            return
        }
        steps.append(step)
        lock.unlock()
    }

    /// Runs every step once; later calls wait for the first to finish and do nothing.
    public func run() {
        lock.lock()
        defer { lock.unlock() }
        guard !done else { return }
        done = true
        for step in steps.reversed() { step() }
        steps.removeAll()
    }

    /// Until `removeSignalHandlers()`, SIGINT and SIGTERM run the steps and exit the process with 130 or 143.
    /// `notice` hears one line when a signal arrives.
    public func exitOnSignals(_ signals: [Int32] = [SIGINT, SIGTERM], notice: @escaping @Sendable (String) -> Void = { _ in }) {
        for number in signals {
            previous[number] = signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                // Held until exit: the main thread, failing because its work was cut off, waits here
                // (`Cleanup.interruption()`) instead of exiting with its own error before the steps are done.
                Self.signalLock.lock()
                Self.signalNumber = number
                notice("interrupted: cleaning up")
                run()
                exit(128 + number)
            }
            source.resume()
            sources.append(source)
        }
    }

    private static let signalLock = NSLock()
    nonisolated(unsafe) private static var signalNumber: Int32?

    /// The signal whose clean-up is under way, if one arrived; waits for that clean-up, which then exits
    /// the process with 128 + the signal. Nil at once when no signal arrived.
    public static func interruption() -> Int32? {
        signalLock.lock()
        defer { signalLock.unlock() }
        return signalNumber
    }

    /// Stops handling signals and gives them back their earlier handlers.
    public func removeSignalHandlers() {
        for source in sources { source.cancel() }
        sources.removeAll()
        for (number, handler) in previous { signal(number, handler ?? SIG_DFL) }
        previous.removeAll()
    }
}
