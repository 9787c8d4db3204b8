import Foundation

/// Block-sized byte arrays kept for reuse. A gzip layer passes each 1 MiB block through up to three arrays
/// (the block, its stored form, the writer thread's queue). Allocated anew, most of them came from fresh
/// `mmap`s that the kernel had to fault in and zero: about 70,000 page faults for a 1 GiB layer, and a
/// tenth of its system time.
final class BufferPool: @unchecked Sendable {
    /// Shared by every layer written in the process; it keeps at most `keep` arrays (8 MiB).
    static let blocks = BufferPool(capacity: GzipSink.blockSize + GzipSink.blockSize / 65_535 * 5 + 64, keep: 8)

    /// The capacity of the arrays handed out; a smaller array given back is dropped.
    let capacity: Int
    private let keep: Int
    private let lock = NSLock()
    private var free: [[UInt8]] = []

    init(capacity: Int, keep: Int) {
        self.capacity = capacity
        self.keep = keep
    }

    /// An empty array with room for `capacity` bytes.
    func take() -> [UInt8] {
        if let buffer = lock.withLock({ free.popLast() }) { return buffer }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(capacity)
        return buffer
    }

    /// Keeps `buffer`'s storage for a later `take`, leaving `buffer` empty. It pays only when the caller
    /// held the array's last reference; otherwise emptying it allocates, as a new array would.
    func recycle(_ buffer: inout [UInt8]) {
        guard buffer.capacity >= capacity, buffer.capacity <= 2 * capacity else { return }
        var kept: [UInt8] = []
        swap(&kept, &buffer)
        kept.removeAll(keepingCapacity: true)
        lock.withLock {
            if free.count < keep { free.append(kept) }
        }
    }
}
