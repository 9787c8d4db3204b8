import CIsal
import CZlib
import Foundation

/// The library that deflates `GzipSink`'s compressible blocks. Both give valid deflate; they give different bytes,
/// so the engine is part of the reproducibility rule and of the layer cache's key.
public enum DeflateEngine: String, Sendable {
    /// ISA-L's igzip at level 1: about 7× zlib level 1's speed on text here, at the same ratio.
    case isal
    /// zlib at level 1.
    case zlib

    /// ISA-L where its deflate takes the paths whose output was checked to be identical: x86-64 with SSE4.2, whose
    /// SSE4.2, AVX, AVX2 and AVX-512 code give the same bytes (under qemu's Nehalem, SandyBridge, Haswell and
    /// Skylake models and natively; `DeflateEnginePathsTests`). zlib elsewhere: ISA-L's C fallback, used without
    /// SSE4.2, hashes with a multiplication instead of the crc32 instruction, and its arm64 code finds other
    /// matches again, so neither gives x86-64's bytes. `KILN_DEFLATE=zlib` asks for zlib anywhere, to match
    /// bytes made on such a machine.
    public static let current: Result<DeflateEngine, ArchiveError> = select(ProcessInfo.processInfo.environment["KILN_DEFLATE"])

    /// Whether ISA-L's deflate output on this CPU is the checked one.
    public static var isalVerified: Bool { kiln_isal_deflate_crc_hash() != 0 }

    static func select(_ requested: String?) -> Result<DeflateEngine, ArchiveError> {
        switch requested {
        case nil, "": return .success(isalVerified ? .isal : .zlib)
        case "zlib": return .success(.zlib)
        case "isal" where isalVerified: return .success(.isal)
        case "isal":
            return .failure(.compression("KILN_DEFLATE=isal: ISA-L's deflate gives other bytes on this CPU than on x86-64 with SSE4.2; use zlib"))
        case let other?: return .failure(.compression("KILN_DEFLATE=\(other): expected isal or zlib"))
        }
    }

    func makeDeflater() throws -> any BlockDeflater {
        switch self {
        case .isal: return try IsalDeflater()
        case .zlib: return try ZlibDeflater(level: 1)
        }
    }
}

/// Deflates one block of a gzip stream as raw deflate: primed with `dictionary` (the previous block's last
/// 32 KiB), ended by a sync flush so the next block can follow at a byte boundary, or, for the stream's last
/// block, by the final block. A deflater is reused block after block, each time as fresh as a new one.
protocol BlockDeflater: AnyObject, Sendable {
    func deflate(_ input: [UInt8], dictionary: [UInt8], last: Bool) throws -> [UInt8]
}

/// ISA-L's deflate at level 1. The level buffer's size sets how much ISA-L gathers before it ends a deflate
/// block, so it is fixed here (Debian 12's `ISAL_DEF_LVL1_DEFAULT`), not taken from whatever header is installed.
final class IsalDeflater: BlockDeflater, @unchecked Sendable {
    static let levelBufferSize = 282_624
    private let stream: UnsafeMutablePointer<isal_zstream>
    private let levelBuffer: UnsafeMutableRawPointer

    init() throws {
        stream = .allocate(capacity: 1)
        levelBuffer = .allocate(byteCount: Self.levelBufferSize, alignment: 64)
    }

    deinit {
        stream.deallocate()
        levelBuffer.deallocate()
    }

    func deflate(_ input: [UInt8], dictionary: [UInt8], last: Bool) throws -> [UInt8] {
        isal_deflate_init(stream)
        stream.pointee.level = 1
        stream.pointee.level_buf = levelBuffer.assumingMemoryBound(to: UInt8.self)
        stream.pointee.level_buf_size = UInt32(Self.levelBufferSize)
        if !dictionary.isEmpty {
            let status = dictionary.withUnsafeBufferPointer {
                isal_deflate_set_dict(stream, UnsafeMutablePointer(mutating: $0.baseAddress), UInt32($0.count))
            }
            guard status == COMP_OK else { throw ArchiveError.compression("ISA-L could not set the deflate dictionary (\(status))") }
        }
        // Stored blocks bound the output when the data does not compress; `fill` grows it if it must.
        let output = try input.withUnsafeBufferPointer { inputBuffer in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: inputBuffer.baseAddress)
            stream.pointee.avail_in = UInt32(inputBuffer.count)
            stream.pointee.end_of_stream = last ? 1 : 0
            stream.pointee.flush = UInt16(last ? NO_FLUSH : SYNC_FLUSH)
            return try fill(capacity: inputBuffer.count + inputBuffer.count / 64 + 1024) { room, count in
                stream.pointee.next_out = room
                stream.pointee.avail_out = UInt32(count)
                let status = isal_deflate(stream)
                guard status == COMP_OK else { throw ArchiveError.compression("ISA-L deflate failed (\(status))") }
                // Done once all input is in and output room is left over (a sync flush is then written whole),
                // or, for the last block, once the stream has ended.
                let done = last ? stream.pointee.internal_state.state == ZSTATE_END
                                : (stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0)
                return (count - Int(stream.pointee.avail_out), done)
            }
        }
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        return output
    }
}

/// zlib's raw deflate (negative window bits: no zlib or gzip wrapper; the sink writes the gzip one).
final class ZlibDeflater: BlockDeflater, @unchecked Sendable {
    private let stream: UnsafeMutablePointer<z_stream>
    private var used = false

    init(level: Int32) throws {
        stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard deflateInit2_(stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            stream.deallocate()
            throw ArchiveError.compression("deflateInit2 failed")
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
    }

    func deflate(_ input: [UInt8], dictionary: [UInt8], last: Bool) throws -> [UInt8] {
        // deflateReset keeps the settings and the tables' memory: as fresh as from init.
        if used, deflateReset(stream) != Z_OK { throw ArchiveError.compression("deflateReset failed") }
        used = true
        if !dictionary.isEmpty {
            _ = dictionary.withUnsafeBufferPointer { deflateSetDictionary(stream, $0.baseAddress, uInt($0.count)) }
        }
        // zlib's state points back at its z_stream: use it in place, never a copy.
        let output = try input.withUnsafeBufferPointer { inputBuffer in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: inputBuffer.baseAddress)
            stream.pointee.avail_in = uInt(inputBuffer.count)
            let flush = last ? Z_FINISH : Z_SYNC_FLUSH
            return try fill(capacity: Int(deflateBound(stream, uLong(inputBuffer.count))) + 64) { room, count in
                stream.pointee.next_out = room
                stream.pointee.avail_out = uInt(count)
                let status = CZlib.deflate(stream, flush)
                guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                    throw ArchiveError.compression("deflate failed (\(status))")
                }
                let done = last ? status == Z_STREAM_END : (stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0)
                return (count - Int(stream.pointee.avail_out), done)
            }
        }
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        return output
    }
}

/// The output of one block: `step` is given the free room of a buffer of `capacity` bytes, grown by 64 KiB
/// whenever a call fills it, and says how many bytes it wrote there and whether the block is done.
private func fill(capacity: Int, _ step: (UnsafeMutablePointer<UInt8>, Int) throws -> (written: Int, done: Bool)) throws -> [UInt8] {
    var output = [UInt8](repeating: 0, count: capacity)
    var produced = 0
    while true {
        if produced == output.count { output.append(contentsOf: [UInt8](repeating: 0, count: 64 * 1024)) }
        let (written, done) = try output.withUnsafeMutableBufferPointer { buffer -> (Int, Bool) in
            guard let base = buffer.baseAddress else { return (0, true) }
            return try step(base + produced, buffer.count - produced)
        }
        produced += written
        if done { break }
    }
    output.removeLast(output.count - produced)
    return output
}
