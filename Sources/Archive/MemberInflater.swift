import CIsal

/// A zip member's data, inflated as it is fed with ISA-L's igzip (about twice as fast as zlib here, and it computes
/// the CRC-32 as it goes; inflating has one right answer, so per-CPU code paths cannot change any output). It never
/// emits more than the member's stated size, and `finish` checks that the data ended, with exactly that size and CRC.
/// Wheel installs and environment layers read members through it alike.
public final class MemberInflater {
    private var state: UnsafeMutablePointer<inflate_state>?
    private let size: Int64
    private let crc32: UInt32
    private let label: String
    private let output: UnsafeMutableRawBufferPointer
    private let ownsOutput: Bool
    private var ended: Bool
    private var storedCRC: UInt32 = 0
    private var produced: Int64 = 0

    /// `method` is the zip method (0 stored, 8 deflate); `label` names the member in errors. Output goes through
    /// `output` when given (the caller's buffer), else through a buffer of the member's size, up to 256 KiB.
    public init(method: UInt16, size: Int64, crc32: UInt32, label: String, output: UnsafeMutableRawBufferPointer? = nil) throws {
        self.size = size
        self.crc32 = crc32
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
            throw ArchiveError.read(label, detail: "uses zip compression method \(method); wheels use deflate or stored")
        }
        ownsOutput = output == nil
        self.output = output ?? .allocate(byteCount: Int(min(max(size, 64), 256 << 10)), alignment: 16)
    }

    deinit {
        state?.deallocate()
        if ownsOutput { output.deallocate() }
    }

    /// Inflates `input`, handing each filled piece of output to `emit`. Bytes after the end of the deflate stream
    /// are ignored, as zlib-based readers (Python's zipfile) ignore them; `finish` decides whether the member is whole.
    public func feed(_ input: UnsafeRawBufferPointer, _ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let state else {
            storedCRC = crc32_gzip_refl(storedCRC, input.bindMemory(to: UInt8.self).baseAddress, UInt64(input.count))
            return try checked(input, emit)
        }
        guard !input.isEmpty, !ended else { return }
        state.pointee.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: UInt8.self).baseAddress)
        state.pointee.avail_in = UInt32(input.count)
        repeat {
            state.pointee.next_out = output.bindMemory(to: UInt8.self).baseAddress
            state.pointee.avail_out = UInt32(output.count)
            let status = isal_inflate(state)
            guard status >= 0 else { throw ArchiveError.read(label, detail: "is not valid deflate data (igzip \(status))") }
            let count = output.count - Int(state.pointee.avail_out)
            if count > 0 { try checked(UnsafeRawBufferPointer(rebasing: output[0..<count]), emit) }
            if state.pointee.block_state == ISAL_BLOCK_FINISH {
                ended = true
                return
            }
            if count == 0 && state.pointee.avail_in == 0 { return }
        } while state.pointee.avail_in > 0 || state.pointee.avail_out == 0
    }

    private func checked(_ bytes: UnsafeRawBufferPointer, _ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        produced += Int64(bytes.count)
        guard produced <= size else { throw ArchiveError.read(label, detail: "inflates past its declared size of \(size) bytes") }
        try emit(bytes)
    }

    /// Checks that the data ended, with the stated size and CRC-32.
    public func finish() throws {
        guard ended || size == 0 else { throw ArchiveError.read(label, detail: "is truncated") }
        guard produced == size else { throw ArchiveError.read(label, detail: "has \(produced) bytes, not the \(size) its header says") }
        guard (state?.pointee.crc ?? storedCRC) == crc32 else { throw ArchiveError.read(label, detail: "fails its CRC-32 check") }
    }
}

/// A zip member's local header: 30 bytes, then the name and an extra field whose length may differ from the
/// central directory's, then the data.
public enum ZipLocalHeader {
    public static let length = 30

    /// Where the member's data starts, given the header's first 30 bytes read at `offset`; nil when they are not a
    /// local header.
    public static func dataStart<Bytes: RandomAccessCollection>(_ header: Bytes, at offset: Int64) -> Int64? where Bytes.Element == UInt8, Bytes.Index == Int {
        guard header.count >= length else { return nil }
        let base = header.startIndex
        func u16(_ at: Int) -> Int64 { Int64(header[base + at]) | Int64(header[base + at + 1]) << 8 }
        guard header[base] == 0x50, header[base + 1] == 0x4b, header[base + 2] == 3, header[base + 3] == 4 else { return nil }
        return offset + Int64(length) + u16(26) + u16(28)
    }
}
