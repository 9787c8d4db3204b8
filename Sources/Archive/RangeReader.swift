import Plan
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads file ranges (`FileRange`) into a layer. A layer's ranges come mostly from a few packs, taken in
/// path order rather than pack order, so the last pack stays open and each range is read at its offset.
final class RangeReader {
    private var path = ""
    private var fd: Int32 = -1

    deinit { if fd >= 0 { close(fd) } }

    /// Streams `range`'s bytes to `write` through `buffer`. A pack that no longer holds the range (cut short
    /// since it was indexed) is a change during the build.
    func read(_ range: FileRange, buffer: UnsafeMutableRawBufferPointer, write: (UnsafeRawBufferPointer) throws -> Void) throws {
        if range.path != path {
            if fd >= 0 { close(fd) }
            path = ""
            fd = open(range.path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw ArchiveError.reading(range.path, errno: errno) }
            path = range.path
        }
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
}
