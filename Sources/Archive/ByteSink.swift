#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CArchive
import Dispatch
import Foundation
import OCI

/// One stage of a streaming pipeline: takes bytes, passes them on. Stages are chained
/// (tar → hash → compress → hash → file) so that every byte is touched once and memory stays bounded.
public protocol ByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Flushes and closes this stage and the stages after it.
    func finish() throws
    /// Takes `bytes` the caller no longer needs, so a stage that keeps them (`BackgroundSink`) need not copy.
    func write(owned bytes: consuming [UInt8]) throws
}

extension ByteSink {
    public func write(owned bytes: consuming [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

/// Hashes and counts the bytes that pass through, then hands them on.
public final class HashingSink: ByteSink {
    private let next: ByteSink
    private var hasher = StreamSHA256()
    /// While false, bytes are hashed and counted but not handed on: the stage after this one gets them in
    /// another form (a wheel member's deflate data, spliced into the gzip stream as it is).
    public var forwarding = true
    /// A second hash that every byte passing now also goes into, beside this one (`StreamSHA256.update(_:alongside:)`):
    /// a wheel member's RECORD hash, while its data passes into the tar.
    var companion: UnsafeMutablePointer<StreamSHA256>?

    public init(next: ByteSink) { self.next = next }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if let companion { hasher.update(bytes, alongside: &companion.pointee) } else { hasher.update(bytes) }
        if forwarding { try next.write(bytes) }
    }

    public func finish() throws { try next.finish() }

    public var digest: Digest { hasher.finalize() }
    public var count: Int64 { hasher.count }
}

/// Hands the bytes to `next` on a thread of its own, so that the stages after it (hashing the compressed
/// stream, writing the file) run beside the ones before it instead of after them. At most `depth` pieces
/// wait, so memory stays bounded; an error from `next` surfaces on the following `write` or on `finish`.
public final class BackgroundSink: ByteSink, @unchecked Sendable {
    private let next: ByteSink
    private let queue = DispatchQueue(label: "kiln.sink")
    private let slots: DispatchSemaphore
    private let lock = NSLock()
    private var failure: Error?
    /// Small writes, gathered into one piece. An environment layer writes thousands of them (each spliced member's
    /// gzip header and trailer, the deflated tar header before it, a short member's data), and a hand-off each cost
    /// a thread wake-up each: a fifth of such a layer's time.
    private var gathered: [UInt8] = []
    static let gatherLimit = 256 << 10

    public init(next: ByteSink, depth: Int = 8) {
        self.next = next
        slots = DispatchSemaphore(value: depth)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        if try gather(bytes.count) { gathered.append(contentsOf: bytes) } else { try send([UInt8](bytes)) }
    }

    public func write(owned piece: consuming [UInt8]) throws {
        var piece = piece
        guard piece.count > 0 else { return }
        guard try gather(piece.count) else { return try send(piece) }
        piece.withUnsafeBytes { gathered.append(contentsOf: $0) }
        BufferPool.blocks.recycle(&piece)
    }

    public func finish() throws {
        try sendGathered()
        queue.sync {}
        try check()
        try next.finish()
    }

    /// Whether `count` more bytes go into the gathered piece; a piece that would grow past the limit is sent first.
    private func gather(_ count: Int) throws -> Bool {
        if gathered.count + count > Self.gatherLimit { try sendGathered() }
        guard count < Self.gatherLimit else { return false }
        if gathered.capacity == 0 { gathered = BufferPool.blocks.take() }
        return true
    }

    private func sendGathered() throws {
        guard !gathered.isEmpty else { return }
        var piece: [UInt8] = []
        swap(&piece, &gathered)
        try send(piece)
    }

    private func send(_ piece: [UInt8]) throws {
        try check()
        slots.wait()
        let box = Owned(piece)
        queue.async { [self] in
            defer { slots.signal() }
            guard lock.withLock({ failure == nil }) else { return }
            do {
                try box.bytes.withUnsafeBytes { try next.write($0) }
            } catch {
                lock.withLock { failure = error }
            }
            BufferPool.blocks.recycle(&box.bytes)
        }
    }

    private func check() throws {
        if let failure = lock.withLock({ failure }) { throw failure }
    }
}

/// An array moved into a closure, so the closure can give its storage back (`BufferPool`) when done.
private final class Owned: @unchecked Sendable {
    var bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}

/// Discards everything.
public final class NullSink: ByteSink {
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) throws {}
    public func finish() throws {}
}

/// Writes to a file descriptor it owns; `finish` fsyncs nothing but closes, and a failure names the path.
public final class FileSink: ByteSink {
    private var fd: Int32
    public let path: String
    /// Bytes written so far: the file's size, since it is written from its start.
    private var written: Int64 = 0
    /// Whether `reserve` took blocks past what may end up written, which `finish` gives back.
    private var reserved = false

    /// Creates (or truncates) `path` with mode 0644.
    public init(path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ArchiveError.write("cannot create \(path): \(String(cString: strerror(errno)))") }
        self.fd = fd
        self.path = path
    }

    /// Creates a new file at `path` with exactly `mode` (whatever the umask), replacing a file or symlink
    /// already there (never writing through it). Tries `O_EXCL` first: usually nothing is there, and an
    /// unlink that fails costs a path walk.
    public init(replacing path: String, mode: mode_t) throws {
        let fd = Self.createReplacing(path, mode: mode)
        guard fd >= 0 else { throw ArchiveError.write("cannot create \(path): \(String(cString: strerror(errno)))") }
        // The umask may have cleared bits of `mode`.
        if fchmod(fd, mode) != 0 {
            close(fd)
            throw ArchiveError.write("cannot set the mode of \(path): \(String(cString: strerror(errno)))")
        }
        self.fd = fd
        self.path = path
    }

    /// A new file at `path`, open for writing, replacing a file or symlink already there: `O_EXCL`, then
    /// unlink and `O_EXCL` again only when something is there. -1 with `errno` set when it cannot be made.
    public static func createReplacing(_ path: String, mode: mode_t) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd < 0, errno == EEXIST else { return fd }
        unlink(path)
        return open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
    }

    deinit {
        guard fd >= 0 else { return }
        // A sink dropped without `finish` (an error midway) still gives back what it reserved.
        giveBackReservation()
        close(fd)
    }

    /// ext4 (also ext2 and ext3) and XFS, by their `statfs` magic numbers.
    static let reservingFileSystems: Set<Int64> = [0xEF53, 0x5846_5342]

    /// Frees the reserved blocks past what was written: a truncation to the size the file has.
    private func giveBackReservation() {
        if reserved { ftruncate(fd, off_t(written)) }
    }

    /// Reserves disk blocks for about `length` bytes before they are written, without changing the file's
    /// size. Writing into reserved blocks skips ext4's per-page delayed allocation: a 1 GiB layer blob cost
    /// 0.21 s of system time written plainly and 0.13 s reserved first. Only a hint: where the file system
    /// cannot reserve, or the disk lacks the room, the writes go on as before and meet any real shortage
    /// themselves. At most half the free space is taken, so that a guess too high (a layer that compresses
    /// well) does not starve another writer. The part not written is given back at `finish`.
    ///
    /// Only on ext4 and XFS, where a reservation is bookkeeping. tmpfs allocates and zeroes real pages for it (0.09 s
    /// of system time for 250 MB, an ML environment's layers), which the writes then fill again.
    public func reserve(_ length: Int64) {
        var disk = statvfs()
        guard length > 0, Self.reservingFileSystems.contains(kiln_file_system_type(fd)), fstatvfs(fd, &disk) == 0 else { return }
        let free = Int64(disk.f_bavail) * Int64(disk.f_frsize)
        guard kiln_reserve(fd, min(length, free / 2)) == 0 else { return }
        reserved = true
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var base = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let written = Glibc.write(fd, base, left)
            if written < 0 {
                if errno == EINTR { continue }
                throw ArchiveError.write("\(path): \(String(cString: strerror(errno)))")
            }
            left -= written
            base += written
            self.written += Int64(written)
        }
    }

    public func finish() throws {
        guard fd >= 0 else { return }
        giveBackReservation()
        let result = close(fd)
        fd = -1
        if result != 0 { throw ArchiveError.write("\(path): \(String(cString: strerror(errno)))") }
    }
}
