import CArchive
import CIsal
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decompresses a gzip file for libarchive with ISA-L's igzip, which inflates layer blobs about twice as fast
/// as zlib (libarchive's own gzip filter). Every member is read (a file may hold several, as RFC 1952 allows and
/// Kiln's spliced layers do), each checked against its CRC-32 and length. Trailing bytes that do not start
/// another member end the stream, as gzip and libarchive treat them.
final class GzipFileReader {
    private let fd: Int32
    private let path: String
    private let input: UnsafeMutableRawBufferPointer
    private let output: UnsafeMutableRawBufferPointer
    private let state: UnsafeMutablePointer<inflate_state>
    private var inputEnded = false
    private var finished = false
    /// Set when reading fails, for libarchive's error.
    private(set) var failure: String?

    /// A reader for `path`, or nil when it cannot be opened or does not start with the gzip magic bytes (the
    /// caller then opens it with libarchive, which reports the error or reads the other formats).
    init?(path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var magic: (UInt8, UInt8) = (0, 0)
        guard withUnsafeMutableBytes(of: &magic, { pread(fd, $0.baseAddress, 2, 0) }) == 2, magic == (0x1f, 0x8b) else {
            close(fd)
            return nil
        }
        self.fd = fd
        self.path = path
        input = .allocate(byteCount: 1 << 20, alignment: 16)
        output = .allocate(byteCount: 1 << 20, alignment: 16)
        state = .allocate(capacity: 1)
        isal_inflate_init(state)
        state.pointee.crc_flag = UInt32(ISAL_GZIP)
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
    }

    deinit {
        close(fd)
        input.deallocate()
        output.deallocate()
        state.deallocate()
    }

    /// The next piece of decompressed bytes; empty at the end. Throws nothing: a failure ends the stream with `failure` set.
    func next() -> UnsafeRawBufferPointer? {
        while !finished {
            if state.pointee.avail_in == 0, !inputEnded {
                let count = read(fd, input.baseAddress, input.count)
                if count < 0 {
                    if errno == EINTR { continue }
                    failure = "\(path): \(String(cString: strerror(errno)))"
                    return nil
                }
                if count == 0 {
                    inputEnded = true
                } else {
                    state.pointee.next_in = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
                    state.pointee.avail_in = UInt32(count)
                }
            }
            state.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
            state.pointee.avail_out = UInt32(output.count)
            let status = isal_inflate(state)
            guard status >= 0 else {
                failure = status == ISAL_INCORRECT_CHECKSUM ? "gzip data fails its CRC-32 or length check" : "gzip data is corrupt (igzip \(status))"
                return nil
            }
            let produced = output.count - Int(state.pointee.avail_out)
            if state.pointee.block_state == ISAL_BLOCK_FINISH, !startNextMember() { finished = true }
            if produced > 0 { return UnsafeRawBufferPointer(rebasing: output[0..<produced]) }
            if state.pointee.avail_in == 0, inputEnded, !finished {
                failure = "gzip data is truncated"
                return nil
            }
        }
        return UnsafeRawBufferPointer(start: nil, count: 0)
    }

    /// After a member: starts the next one if the input goes on with a gzip header.
    private func startNextMember() -> Bool {
        // The next header's two magic bytes may straddle a read: keep what is left and read on behind it.
        while state.pointee.avail_in < 2, !inputEnded, let base = input.baseAddress {
            let kept = Int(state.pointee.avail_in)
            if kept > 0, let next = state.pointee.next_in { base.copyMemory(from: next, byteCount: kept) }
            let count = read(fd, base + kept, input.count - kept)
            if count < 0, errno == EINTR { continue }
            if count <= 0 { inputEnded = true }
            state.pointee.next_in = base.assumingMemoryBound(to: UInt8.self)
            state.pointee.avail_in = UInt32(kept + max(count, 0))
        }
        guard state.pointee.avail_in >= 2, let next = state.pointee.next_in, next[0] == 0x1f, next[1] == 0x8b else { return false }
        let (pending, count) = (state.pointee.next_in, state.pointee.avail_in)
        isal_inflate_reset(state)
        state.pointee.crc_flag = UInt32(ISAL_GZIP)
        state.pointee.next_in = pending
        state.pointee.avail_in = count
        return true
    }

    /// Opens `archive` on this reader (which must outlive the read): libarchive then sees the plain tar.
    func attach(to archive: OpaquePointer) -> Int32 {
        archive_read_open(archive, Unmanaged.passUnretained(self).toOpaque(), nil, { archive, client, buffer in
            guard let client, let buffer else { return -1 }
            let reader = Unmanaged<GzipFileReader>.fromOpaque(client).takeUnretainedValue()
            guard let piece = reader.next() else {
                kiln_archive_set_error(archive, reader.failure ?? "gzip read failed")
                return -1
            }
            buffer.pointee = piece.baseAddress.map(UnsafeRawPointer.init)
            return piece.count
        }, nil)
    }
}
