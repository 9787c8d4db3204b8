import OCI
import CIsal
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
    func read(_ member: ArchiveMember, raw: ((UnsafeRawBufferPointer) throws -> Void)?,
              write: (UnsafeRawBufferPointer) throws -> Void) throws {
        let label = member.name
        func fail(_ why: String) -> ArchiveError { .read(label, detail: why) }
        let descriptor = try open(member.archive)
        var header = [UInt8](repeating: 0, count: 30)
        try readFully(descriptor, into: &header, at: member.localHeaderOffset, label: label)
        guard header[0] == 0x50, header[1] == 0x4b, header[2] == 3, header[3] == 4 else { throw fail("its local header is corrupt") }
        let start = member.localHeaderOffset + 30 + Int64(UInt16(header[26]) | UInt16(header[27]) << 8)
            + Int64(UInt16(header[28]) | UInt16(header[29]) << 8)
        var inflater = try Inflate(method: member.method, label: label)
        defer { inflater.end() }
        var hasher = SHA256()
        var produced: Int64 = 0
        let emit: (UnsafeRawBufferPointer) throws -> Void = { bytes in
            produced += Int64(bytes.count)
            guard produced <= member.size else { throw fail("it inflates past its stated size of \(member.size) bytes") }
            if member.sha256 != nil { hasher.update(bufferPointer: bytes) }
            try write(bytes)
        }
        var offset: Int64 = 0
        while offset < member.compressedSize {
            let count = Int(min(Int64(input.count), member.compressedSize - offset))
            let piece = UnsafeRawBufferPointer(rebasing: input[0..<count])
            try readFully(descriptor, into: UnsafeMutableRawBufferPointer(rebasing: input[0..<count]), at: start + offset, label: label)
            try raw?(piece)
            try inflater.feed(piece, output: output, emit)
            offset += Int64(count)
        }
        guard inflater.ended else { throw fail("its deflate data is truncated") }
        guard produced == member.size else { throw fail("it holds \(produced) bytes, not the \(member.size) its archive states") }
        guard inflater.crc == member.crc32 else { throw fail("it fails its CRC-32 check") }
        if let expected = member.sha256 {
            let actual = hasher.finalize().hexString
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

/// Raw deflate (zip method 8) or stored (method 0), inflated piece by piece with ISA-L's igzip, which inflates
/// about twice as fast as zlib here and computes the CRC-32 as it goes. Inflating has one right answer, so
/// the library's per-CPU code paths cannot change any output.
public struct Inflate {
    private var state: UnsafeMutablePointer<inflate_state>?
    private let label: String
    public private(set) var ended: Bool
    private var storedCRC: UInt32 = 0

    /// `label` names the data in errors.
    public init(method: UInt16, label: String) throws {
        self.label = label
        switch method {
        case 0:
            state = nil
            ended = true
        case 8:
            let pointer = UnsafeMutablePointer<inflate_state>.allocate(capacity: 1)
            isal_inflate_init(pointer)
            pointer.pointee.crc_flag = UInt32(ISAL_GZIP_NO_HDR)
            state = pointer
            ended = false
        default:
            throw ArchiveError.read(label, detail: "zip compression method \(method) is not deflate or stored")
        }
    }

    /// The CRC-32 of everything emitted so far.
    public var crc: UInt32 { state?.pointee.crc ?? storedCRC }

    /// Inflates `input` through `output`, handing each filled piece to `emit`.
    public mutating func feed(_ input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer,
                       _ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let state else {
            storedCRC = crc32_gzip_refl(storedCRC, input.bindMemory(to: UInt8.self).baseAddress, UInt64(input.count))
            return try emit(input)
        }
        // Bytes after the end of the deflate stream are ignored, as zlib-based readers (Python's zipfile) ignore them;
        // the size and CRC checks decide whether the member is whole.
        guard !input.isEmpty, !ended else { return }
        state.pointee.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: UInt8.self).baseAddress)
        state.pointee.avail_in = UInt32(input.count)
        repeat {
            state.pointee.next_out = output.bindMemory(to: UInt8.self).baseAddress
            state.pointee.avail_out = UInt32(output.count)
            let status = isal_inflate(state)
            guard status >= 0 else { throw ArchiveError.read(label, detail: "its deflate data is corrupt (igzip \(status))") }
            let count = output.count - Int(state.pointee.avail_out)
            if count > 0 { try emit(UnsafeRawBufferPointer(rebasing: output[0..<count])) }
            if state.pointee.block_state == ISAL_BLOCK_FINISH {
                ended = true
                return
            }
            if count == 0 && state.pointee.avail_in == 0 { return }
        } while state.pointee.avail_in > 0 || state.pointee.avail_out == 0
    }

    /// Frees the decoder; the value is done.
    public mutating func end() {
        state?.deallocate()
        state = nil
    }
}
