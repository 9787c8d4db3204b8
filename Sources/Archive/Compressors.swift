import CZlib
import CZstd
import OCI

/// The compression stage for `compression`, writing into `next`.
public func makeCompressor(_ compression: LayerCompression, next: ByteSink) throws -> ByteSink {
    switch compression {
    case .gzip: return try GzipSink(next: next)
    case .zstd: return try ZstdSink(next: next)
    case .none: return next
    }
}

/// gzip with a fixed header (no name, mtime 0, OS 255 "unknown"), so the same tar gives the same
/// bytes on every machine; zlib would otherwise write the build host's OS code.
public final class GzipSink: ByteSink {
    private var stream = z_stream()
    private var header = gz_header()
    private let next: ByteSink
    private var output: UnsafeMutableRawBufferPointer
    private var finished = false

    public static let level: Int32 = 6

    public init(next: ByteSink, level: Int32 = GzipSink.level) throws {
        self.next = next
        output = .allocate(byteCount: 256 * 1024, alignment: 16)
        // windowBits 15 + 16 selects the gzip wrapper.
        let status = deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                                   ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            output.deallocate()
            throw ArchiveError.compression("deflateInit2 failed (\(status))")
        }
        header.os = 255
        deflateSetHeader(&stream, &header)
    }

    deinit {
        deflateEnd(&stream)
        output.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        stream.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(bytes.count)
        try pump(flush: Z_NO_FLUSH)
    }

    public func finish() throws {
        guard !finished else { return }
        finished = true
        stream.next_in = nil
        stream.avail_in = 0
        try pump(flush: Z_FINISH)
        try next.finish()
    }

    private func pump(flush: Int32) throws {
        while true {
            stream.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(output.count)
            let status = deflate(&stream, flush)
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                throw ArchiveError.compression("deflate failed (\(status))")
            }
            let produced = output.count - Int(stream.avail_out)
            if produced > 0 { try next.write(UnsafeRawBufferPointer(rebasing: output[0..<produced])) }
            if flush == Z_FINISH {
                if status == Z_STREAM_END { return }
            } else if stream.avail_in == 0 && stream.avail_out != 0 {
                return
            }
        }
    }
}

/// zstd at a fixed level, single-threaded, so the output is deterministic.
public final class ZstdSink: ByteSink {
    private let context: OpaquePointer
    private let next: ByteSink
    private var output: UnsafeMutableRawBufferPointer
    private var finished = false

    public static let level: Int32 = 3

    public init(next: ByteSink, level: Int32 = ZstdSink.level) throws {
        guard let context = ZSTD_createCCtx() else { throw ArchiveError.compression("ZSTD_createCCtx failed") }
        self.context = context
        self.next = next
        output = .allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 16)
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
    }

    deinit {
        ZSTD_freeCCtx(context)
        output.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while input.pos < input.size {
            try step(&input, ZSTD_e_continue)
        }
    }

    public func finish() throws {
        guard !finished else { return }
        finished = true
        var input = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try step(&input, ZSTD_e_end) != 0 {}
        try next.finish()
    }

    @discardableResult
    private func step(_ input: inout ZSTD_inBuffer, _ directive: ZSTD_EndDirective) throws -> Int {
        var out = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        let remaining = ZSTD_compressStream2(context, &out, &input, directive)
        if ZSTD_isError(remaining) != 0 {
            throw ArchiveError.compression("zstd: \(String(cString: ZSTD_getErrorName(remaining)))")
        }
        if out.pos > 0 { try next.write(UnsafeRawBufferPointer(rebasing: output[0..<out.pos])) }
        return remaining
    }
}
