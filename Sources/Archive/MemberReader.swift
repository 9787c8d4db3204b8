import OCI
import Crypto
import Plan
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads archive members (`ArchiveMember`) into a layer: inflates each for the tar stream, and can hand its
/// deflate data on as it is. Every member is checked for size, CRC-32 and the stated sha256 before the
/// layer is accepted. The last archive stays open, since a layer's members come mostly archive by archive.
final class MemberReader {
    private var path = ""
    private var fd: Int32 = -1
    private let input: UnsafeMutableRawBufferPointer
    private let output: UnsafeMutableRawBufferPointer

    init(chunk: Int) {
        input = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        output = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
    }

    deinit {
        if fd >= 0 { close(fd) }
        input.deallocate()
        output.deallocate()
    }

    /// Streams `member`'s bytes to `write`; each piece of its compressed data also goes to `raw` first, when given.
    /// With `through`, the sink every byte given to `write` reaches before `write` returns (the tar's hash), the
    /// member's sha256 is computed there, beside the tar's.
    func read(_ member: ArchiveMember, raw: ((UnsafeRawBufferPointer) throws -> Void)?, through tarHash: HashingSink? = nil,
              write: (UnsafeRawBufferPointer) throws -> Void) throws {
        let label = member.name
        func fail(_ why: String) -> ArchiveError { .read(label, detail: why) }
        let descriptor = try open(member.archive)
        var header = [UInt8](repeating: 0, count: ZipLocalHeader.length)
        try readFully(descriptor, into: &header, at: member.localHeaderOffset, label: label)
        guard let start = ZipLocalHeader.dataStart(header, at: member.localHeaderOffset) else { throw fail("its local header is corrupt") }
        let inflater = try MemberInflater(method: member.method, size: member.size, crc32: member.crc32, label: label, output: output)
        var hasher = StreamSHA256()
        let checked = member.sha256 != nil
        try withUnsafeMutablePointer(to: &hasher) { hasher in
            let alongside = checked ? tarHash : nil
            alongside?.companion = hasher
            defer { alongside?.companion = nil }
            var offset: Int64 = 0
            while offset < member.compressedSize {
                let count = Int(min(Int64(input.count), member.compressedSize - offset))
                let piece = UnsafeRawBufferPointer(rebasing: input[0..<count])
                try readFully(descriptor, into: UnsafeMutableRawBufferPointer(rebasing: input[0..<count]), at: start + offset, label: label)
                try raw?(piece)
                try inflater.feed(piece) { bytes in
                    if checked, alongside == nil { hasher.pointee.update(bytes) }
                    try write(bytes)
                }
                offset += Int64(count)
            }
        }
        try inflater.finish()
        if let expected = member.sha256 {
            let actual = hasher.finalize().encoded
            guard actual == expected else { throw fail("its sha256 is \(actual), not the \(expected) the archive's RECORD states") }
        }
    }

    private func open(_ archive: String) throws -> Int32 {
        if archive == path, fd >= 0 { return fd }
        if fd >= 0 { close(fd) }
        fd = Glibc.open(archive, O_RDONLY | O_CLOEXEC)
        path = fd >= 0 ? archive : ""
        guard fd >= 0 else { throw ArchiveError.unreadable(archive, errno: errno) }
        return fd
    }

    private func readFully(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, label: String) throws {
        var done = 0
        while done < buffer.count {
            let got = pread(descriptor, buffer.baseAddress.map { $0 + done }, buffer.count - done, off_t(offset) + off_t(done))
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { throw ArchiveError.read(label, detail: got == 0 ? "the archive is truncated" : String(cString: strerror(errno))) }
            done += got
        }
    }

    private func readFully(_ descriptor: Int32, into bytes: inout [UInt8], at offset: Int64, label: String) throws {
        try bytes.withUnsafeMutableBytes { try readFully(descriptor, into: $0, at: offset, label: label) }
    }
}
