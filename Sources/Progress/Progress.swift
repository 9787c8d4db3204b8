import Foundation

/// Progress of long steps (pulls, pushes, downloads, the solve, layer writing), reported to whoever
/// listens. The library never draws anything: the CLI installs a reporter around a call with
/// `Progress.$reporter.withValue(_:operation:)`, and every step started inside that call, in any child task,
/// reports to it. With no reporter, steps cost a lock and an addition per update.
public enum Progress {
    /// The listener for steps started in the current task and its children.
    @TaskLocal public static var reporter: (any ProgressReporter)?

    /// Starts a step named `title` of `total` units (nil when unknown), reported to the current reporter.
    public static func start(_ title: String, total: Int64? = nil, unit: ProgressUnit = .bytes) -> ProgressStep {
        ProgressStep(title: title, total: total, unit: unit, reporter: reporter)
    }

    /// Runs `body` as one step that finishes when it returns and fails when it throws.
    public static func step<T>(_ title: String, total: Int64? = nil, unit: ProgressUnit = .items,
                               _ body: (ProgressStep) async throws -> T) async rethrows -> T {
        let step = start(title, total: total, unit: unit)
        do {
            let result = try await body(step)
            step.finish()
            return result
        } catch {
            step.fail()
            throw error
        }
    }
}

/// What a step counts.
public enum ProgressUnit: Sendable {
    case bytes
    case items
}

/// One step as a reporter sees it.
public struct ProgressSnapshot: Sendable {
    public enum State: Sendable, Equatable {
        case running
        case finished
        case failed
    }

    /// Unique in the process, so a reporter can tell steps with the same title apart.
    public var id: Int
    public var title: String
    public var unit: ProgressUnit
    public var completed: Int64
    public var total: Int64?
    public var state: State
    /// Seconds since the step started.
    public var elapsed: Double
}

/// Receives steps as they start, advance and end. Calls come from any thread.
public protocol ProgressReporter: Sendable {
    func update(_ step: ProgressSnapshot)
}

/// A running step. `advance` may be called from any thread, as often as bytes arrive: updates reach the
/// reporter at most ten times a second, plus the first and the last.
public final class ProgressStep: @unchecked Sendable {
    private static let counter = Counter()
    private let lock = NSLock()
    private let reporter: (any ProgressReporter)?
    private let started = DispatchTime.now()
    private var snapshot: ProgressSnapshot
    private var lastReport: UInt64 = 0

    init(title: String, total: Int64?, unit: ProgressUnit, reporter: (any ProgressReporter)?) {
        self.reporter = reporter
        snapshot = ProgressSnapshot(id: Self.counter.next(), title: title, unit: unit, completed: 0, total: total,
                                    state: .running, elapsed: 0)
        reporter?.update(snapshot)
    }

    /// Adds `count` units done.
    public func advance(by count: Int64) {
        guard let reporter else { return }
        let due: ProgressSnapshot? = lock.withLock {
            // The time is read under the lock: read before it, a thread that got the lock later could hold an
            // earlier time than `lastReport`, and the subtraction below would overflow (it did, with six conda
            // packages advancing one step at once).
            let now = DispatchTime.now().uptimeNanoseconds
            snapshot.completed += count
            guard snapshot.state == .running, now - lastReport >= 100_000_000 else { return nil }
            lastReport = now
            snapshot.elapsed = Double(now - started.uptimeNanoseconds) / 1e9
            return snapshot
        }
        if let due { reporter.update(due) }
    }

    /// Sets the total once it is known.
    public func setTotal(_ total: Int64?) {
        lock.withLock { snapshot.total = total }
    }

    /// Ends the step as done.
    public func finish() { end(.finished) }

    /// Ends the step as failed.
    public func fail() { end(.failed) }

    private func end(_ state: ProgressSnapshot.State) {
        let final: ProgressSnapshot? = lock.withLock {
            guard snapshot.state == .running else { return nil }
            snapshot.state = state
            snapshot.elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
            return snapshot
        }
        if let final { reporter?.update(final) }
    }

    deinit {
        // A step dropped without an end (a thrown error skipped it) ends as failed.
        if snapshot.state == .running, let reporter {
            var final = snapshot
            final.state = .failed
            reporter.update(final)
        }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int { lock.withLock { value += 1; return value } }
    }
}
