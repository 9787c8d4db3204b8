import Foundation
import Progress
import Synchronization
import Testing

/// A step advanced from many threads at once (downloads running side by side): every unit is counted, updates
/// keep their pace, and nothing traps. Reading the clock outside the step's lock once made a later lock holder
/// subtract a newer report time from an older one, an overflow that killed a conda install.
@Suite struct ProgressStepTests {
    final class Counting: ProgressReporter {
        let last = Mutex<ProgressSnapshot?>(nil)
        let updates = Mutex(0)
        func update(_ step: ProgressSnapshot) {
            last.withLock { $0 = step }
            updates.withLock { $0 += 1 }
        }
    }

    @Test func advancesFromManyThreadsAreAllCounted() throws {
        let reporter = Counting()
        let step = Progress.$reporter.withValue(reporter) { Progress.start("many", total: 8 * 20_000) }
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<20_000 { step.advance(by: 1) }
        }
        step.finish()
        let last = try #require(reporter.last.withLock { $0 })
        let expected: Int64 = 8 * 20_000
        #expect(last.completed == expected)
        #expect(last.state == .finished)
        // The first, at most ten a second while it ran, and the last.
        #expect(reporter.updates.withLock { $0 } < 100)
    }
}
