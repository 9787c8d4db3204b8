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
