import Plan
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads file ranges (`FileRange`) into a layer. A layer's ranges come in path order, not pack order: in an
/// environment's shared layer, neighbouring paths (`lib/`, `bin/`) belong to many packages, so the packs stay
/// open (up to `maxOpen`) and each range is read at its offset.
final class RangeReader {
    static let maxOpen = 256
    private var open: [String: Int32] = [:]

    deinit { closeAll() }

    /// Streams `range`'s bytes to `write` through `buffer`. A pack that no longer holds the range (cut short
    /// since it was indexed) is a change during the build.
    func read(_ range: FileRange, buffer: UnsafeMutableRawBufferPointer, write: (UnsafeRawBufferPointer) throws -> Void) throws {
        let fd = try descriptor(range.path)
        var offset = range.offset
        var left = range.size
        while left > 0 {
            let count = pread(fd, buffer.baseAddress, Int(min(Int64(buffer.count), left)), off_t(offset))
            if count < 0 {
                if errno == EINTR { continue }
                throw ArchiveError.unreadable(range.path, errno: errno)
            }
            guard count > 0 else { throw ArchiveError.changedDuringBuild("\(range.path) (\(range.name))") }
            try write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            offset += Int64(count)
            left -= Int64(count)
        }
    }

    private func descriptor(_ path: String) throws -> Int32 {
        if let fd = open[path] { return fd }
        if open.count >= Self.maxOpen { closeAll() }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveError.reading(path, errno: errno) }
        open[path] = fd
        return fd
    }

    private func closeAll() {
        for fd in open.values { close(fd) }
        open = [:]
    }
}
