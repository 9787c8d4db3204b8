import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a layer's small files ahead of the tar writer, on a thread of its own. At 200,000 files the
/// open, read and close calls were half of the writer's time, on the thread that also hashes the tar.
///
/// Files come back in the entries' order, in batches, with at most `budget` bytes read and not yet taken.
/// A file over `largest` bytes is left to the writer, which streams it. A file that cannot be read ends
/// the reading: its error is handed over in its place, and the writer throws it there, as it would have.
final class FilePrefetcher: @unchecked Sendable {
    /// A file read ahead: its bytes (as many as it had, which the tar writer checks against the size the
    /// walk saw), or why it could not be read.
    enum Read {
        case bytes([UInt8])
        case failed(ArchiveError)
    }

    static let largest: Int64 = 256 << 10
    static let budget = 4 << 20
    /// Fewer small files than this are not worth a thread.
    static let minimumFiles = 64
    private static let batchFiles = 256
    private static let batchBytes = 1 << 20

    private typealias Batch = (items: [(index: Int, read: Read)], bytes: Int)

    private let condition = NSCondition()
    private var ready: [Batch] = []
    private var queuedBytes = 0
    private var stopped = false
    private var producing = true
    private let exited = DispatchSemaphore(value: 0)

    /// The batch the writer is taking from, and its position in it; touched by the writer's thread only.
    private var current: [(index: Int, read: Read)] = []
    private var position = 0

    /// Starts reading `entries`' small files ahead, or returns nil when there are too few to pay for it.
    static func start(_ entries: [LayerEntry]) -> FilePrefetcher? {
        var small = 0
        for entry in entries where wanted(entry) {
            small += 1
            if small >= minimumFiles { break }
        }
        guard small >= minimumFiles else { return nil }
        let prefetcher = FilePrefetcher()
        // A thread of its own, not the dispatch pool, which the compressor's workers use.
        Thread.detachNewThread {
            prefetcher.produce(entries)
            prefetcher.exited.signal()
        }
        return prefetcher
    }

    static func wanted(_ entry: LayerEntry) -> Bool {
        if case let .file(_, size) = entry.kind { return size <= largest }
        return false
    }

    /// The read of `entries[index]`, waiting for it if need be; nil if it was not read ahead.
    func take(_ index: Int) -> Read? {
        while position == current.count {
            condition.lock()
            while ready.isEmpty && producing { condition.wait() }
            guard !ready.isEmpty else {
                condition.unlock()
                return nil
            }
            let batch = ready.removeFirst()
            queuedBytes -= batch.bytes
            condition.broadcast()
            condition.unlock()
            current = batch.items
            position = 0
        }
        guard current[position].index == index else { return nil }
        position += 1
        return current[position - 1].read
    }

    /// Stops the reading thread and waits for it to end; the writer calls it whether it finished or failed.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
        exited.wait()
    }

    private func produce(_ entries: [LayerEntry]) {
        var directory = ParentDirectory()
        defer {
            directory.close()
            condition.lock()
            producing = false
            condition.broadcast()
            condition.unlock()
        }
        var batch: Batch = ([], 0)
        for (index, entry) in entries.enumerated() {
            guard case let .file(source, size) = entry.kind, size <= Self.largest else { continue }
            let read = Self.read(source, size: size, directory: &directory)
            batch.items.append((index, read))
            batch.bytes += Int(size)
            if case .failed = read { break }
            if batch.items.count >= Self.batchFiles || batch.bytes >= Self.batchBytes {
                guard publish(batch) else { return }
                batch = ([], 0)
            }
        }
        if !batch.items.isEmpty { _ = publish(batch) }
    }

    /// Hands `batch` to the writer once the bytes waiting allow it; false when the writer has stopped.
    private func publish(_ batch: Batch) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while queuedBytes >= Self.budget && !stopped { condition.wait() }
        guard !stopped else { return false }
        ready.append(batch)
        queuedBytes += batch.bytes
        condition.broadcast()
        return true
    }

    /// Reads up to one byte more than `size`, so that a file that grew is seen to have grown; one that
    /// shrank reads short, and the tar writer refuses both.
    static func read(_ source: SourcePath, size: Int64, directory: inout ParentDirectory) -> Read {
        let fd = directory.open(source)
        guard fd >= 0 else {
            return .failed(.reading(source.path, errno: errno))
        }
        defer { close(fd) }
        let capacity = Int(size) + 1
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            count = 0
            while count < capacity {
                let got = Glibc.read(fd, buffer.baseAddress.map { $0 + count }, capacity - count)
                if got < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                if got == 0 { return }
                count += got
                // A regular file reads short only at its end: a file still its walked size needs no read of 0.
                if count == capacity - 1 { return }
            }
        }
        guard failure == 0 else { return .failed(.reading(source.path, errno: failure)) }
        return .bytes(bytes)
    }
}
