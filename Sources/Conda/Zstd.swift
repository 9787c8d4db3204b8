import CZstd
import Foundation

/// zstd decompression for repodata.json.zst (streaming, so the frame size need not be known).
enum Zstd {
    /// At most `limit` bytes out, so a small hostile frame cannot expand without bound.
    ///
    /// A frame that declares its content size past `limit` is refused before any work. Otherwise a first
    /// pass only counts the output, so a bomb that expands past `limit` (a streaming compressor writes no
    /// size) costs CPU time but never `limit` bytes of memory; the second pass keeps exactly what the
    /// first counted. Repodata is read whole anyway, so the extra pass is the price of flat memory.
    static func decompress(_ data: Data, what: String, limit: Int = Fetcher.maxRepodataSize) throws -> Data {
        let declared = data.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        // UInt64.max and UInt64.max - 1 are ZSTD_CONTENTSIZE_UNKNOWN and ZSTD_CONTENTSIZE_ERROR.
        if declared < UInt64.max - 1, declared > UInt64(limit) {
            throw CondaError.repodata("\(what) expands to more than \(limit) bytes (its frame says \(declared))")
        }
        let size = try stream(data, what: what, limit: limit) { _ in }
        var output = Data(capacity: size)
        _ = try stream(data, what: what, limit: limit) { output.append(contentsOf: $0) }
        return output
    }

    /// Decompresses `data`, handing each piece to `sink`; the total, which may not pass `limit`.
    static func stream(_ data: Data, what: String, limit: Int, _ sink: (UnsafeRawBufferPointer) -> Void) throws -> Int {
        guard let stream = ZSTD_createDStream() else { throw CondaError.repodata("\(what): cannot start zstd") }
        defer { ZSTD_freeDStream(stream) }
        ZSTD_initDStream(stream)
        var total = 0
        let chunk = ZSTD_DStreamOutSize()
        var buffer = [UInt8](repeating: 0, count: chunk)
        try data.withUnsafeBytes { (source: UnsafeRawBufferPointer) in
            var input = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
            while true {
                var produced = 0
                let result = buffer.withUnsafeMutableBytes { target -> Int in
                    var out = ZSTD_outBuffer(dst: target.baseAddress, size: chunk, pos: 0)
                    let status = ZSTD_decompressStream(stream, &out, &input)
                    produced = out.pos
                    if ZSTD_isError(status) != 0 { return -1 }
                    if total + out.pos <= limit { sink(UnsafeRawBufferPointer(rebasing: target[0..<out.pos])) }
                    return Int(status)
                }
                guard result >= 0 else { throw CondaError.repodata("\(what) is not valid zstd") }
                total += produced
                guard total <= limit else { throw CondaError.repodata("\(what) expands to more than \(limit) bytes") }
                if result == 0 && input.pos == input.size { return }
                if produced == 0 && input.pos == input.size { throw CondaError.repodata("\(what) is truncated") }
            }
        }
        return total
    }
}
