import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension EntryCollector {
    /// Walks the tree under `directory` on every core: each thread lists a directory and examines its names,
    /// and the subdirectories it finds go back on a shared list. At 200,000 files the walk is almost all
    /// `fstatat` calls, which run side by side. Entries come out in no particular order; the collector
    /// sorts them. When any thread fails, the tree is walked again on one thread, so the error reported is
    /// the one a plain depth-first walk meets first, whatever the threads met.
    static func walkInParallel(_ directory: WalkedDirectory, root: String, origin: Int, into found: inout Found) throws {
        let threads = min(4, ProcessInfo.processInfo.activeProcessorCount)
        guard threads > 1 else { return try walk(directory, root: root, origin: origin, into: &found) }
        let queue = WalkQueue(directory)
        let helpers = (1..<threads).map { _ in WalkHelper() }
        let finished = DispatchGroup()
        for helper in helpers {
            finished.enter()
            Thread.detachNewThread {
                defer { finished.leave() }
                var local = Found()
                queue.work(root: root, origin: origin, into: &local)
                helper.found = local
            }
        }
        var own = Found()
        queue.work(root: root, origin: origin, into: &own)
        finished.wait()
        guard !queue.failed else {
            var again = Found()
            try walk(directory, root: root, origin: origin, into: &again)
            // The tree changed between the walks and no longer fails: what the second walk found stands.
            found.append(contentsOf: again)
            return
        }
        found.append(contentsOf: own)
        own = Found()
        for helper in helpers {
            found.append(contentsOf: helper.found)
            helper.found = Found()
        }
    }
}

/// What one helper thread of the walk found, handed back when it ends.
private final class WalkHelper: @unchecked Sendable {
    var found = EntryCollector.Found()
}

/// The directories still to list, shared by the walk's threads. The walk ends when none is left and no
/// thread is listing one (which could add more), or when one fails.
private final class WalkQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [EntryCollector.WalkedDirectory]
    private var listing = 0
    private(set) var failed = false

    init(_ first: EntryCollector.WalkedDirectory) {
        pending = [first]
    }

    func work(root: String, origin: Int, into found: inout EntryCollector.Found) {
        while let directory = take() {
            var subdirectories: [EntryCollector.WalkedDirectory] = []
            do {
                try EntryCollector.list(directory, root: root, origin: origin, into: &found, subdirectories: &subdirectories)
                finish(subdirectories, failed: false)
            } catch {
                finish([], failed: true)
                return
            }
        }
    }

    /// The next directory to list, waiting while others are being listed; nil when the walk is over.
    private func take() -> EntryCollector.WalkedDirectory? {
        condition.lock()
        defer { condition.unlock() }
        while pending.isEmpty && listing > 0 && !failed { condition.wait() }
        guard !failed, let directory = pending.popLast() else { return nil }
        listing += 1
        return directory
    }

    /// Ends a listing, handing in the subdirectories it found.
    private func finish(_ subdirectories: [EntryCollector.WalkedDirectory], failed: Bool) {
        condition.lock()
        defer { condition.unlock() }
        listing -= 1
        pending.append(contentsOf: subdirectories)
        if failed { self.failed = true }
        condition.broadcast()
    }
}
