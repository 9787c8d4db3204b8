import Archive
import Foundation
import OCI

/// The sha256 of a file on disk, read in 1 MiB pieces (paths of any length).
enum DigestFile {
    static func sha256(path: String) throws -> Digest {
        try measure(path: path).digest
    }

    /// The file's sha256 and its length in bytes.
    static func measure(path: String) throws -> (digest: Digest, size: Int64) {
        let fd = LongPath.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveError.missingSource(path) }
        defer { close(fd) }
        var counter = DigestCounter()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ArchiveError.unreadable(path, errno: errno)
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { counter.update(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
        return (counter.finalize(), counter.count)
    }
}
