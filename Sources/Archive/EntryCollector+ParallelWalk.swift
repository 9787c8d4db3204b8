import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension EntryCollector {
    /// Walks the tree under `directory` on every core: each thread lists a directory and examines its names,
    /// and the subdirectories it finds go back on a shared list. At 200,000 files the walk is almost all
    /// `fstatat` calls, which run side by side. The listings are then joined in layer order. When any
    /// thread fails, the tree is walked again on one thread, so the error reported is the one that walk
    /// (each directory's names in order, then its subdirectories) meets first, whatever the threads met.
    static func walkInParallel(_ directory: WalkedDirectory, root: String, origin: Int, threads: Int, into found: inout Found) throws {
        guard threads > 1 else { return try walk(directory, root: root, origin: origin, into: &found) }
        let start = found.count
        let queue = WalkQueue(directory)
        let helpers = (1..<threads).map { _ in WalkHelper() }
        let finished = DispatchGroup()
        for (number, helper) in helpers.enumerated() {
            finished.enter()
            Thread.detachNewThread {
                defer { finished.leave() }
                queue.work(root: root, origin: origin, part: number + 1, into: &helper.found)
            }
        }
        queue.work(root: root, origin: origin, part: 0, into: &found)
        finished.wait()
        guard !queue.failed else {
            found.removeLast(found.count - start)
            return try walk(directory, root: root, origin: origin, into: &found)
        }
        // Part 0's entries are already in `found`; the helpers' go after them, each freed as it is added.
        var offsets = [0]
        for helper in helpers {
            offsets.append(found.count)
            found.append(contentsOf: helper.found)
            helper.found = Found()
        }
        var listings = queue.takeListings()
        try arrange(directory.destination, root: directory.path, listings: &listings, offsets: offsets, from: start, in: &found)
    }
}

/// What one helper thread of the walk found.
private final class WalkHelper: @unchecked Sendable {
    var found = EntryCollector.Found()
}

/// The directories still to list and the listings made, shared by the walk's threads. The walk ends when
/// no directory is left and no thread is listing one (which could add more), or when one fails.
private final class WalkQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [EntryCollector.WalkedDirectory]
    private var listings: [String: EntryCollector.Listing] = [:]
    private var listing = 0
    private(set) var failed = false

    init(_ first: EntryCollector.WalkedDirectory) {
        pending = [first]
    }

    func work(root: String, origin: Int, part: Int, into found: inout EntryCollector.Found) {
        while let directory = take() {
            do {
                let made = try EntryCollector.list(directory, root: root, origin: origin, part: part, into: &found)
                finish(directory, made)
            } catch {
                finish(directory, nil)
                return
            }
        }
    }

    /// Every listing, once the threads have ended.
    func takeListings() -> [String: EntryCollector.Listing] {
        condition.lock()
        defer { condition.unlock() }
        let all = listings
        listings = [:]
        return all
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

    /// Ends the listing of `directory`: its result, or nil when it failed.
    private func finish(_ directory: EntryCollector.WalkedDirectory, _ made: EntryCollector.Listing?) {
        condition.lock()
        defer { condition.unlock() }
        listing -= 1
        if let made {
            pending.append(contentsOf: made.subtrees.map(\.directory))
            listings[directory.destination] = made
        } else {
            failed = true
        }
        condition.broadcast()
    }
}
