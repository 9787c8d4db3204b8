import CZstd
import Foundation

/// zstd decompression for repodata.json.zst (streaming, so the frame size need not be known).
enum Zstd {
    /// At most `limit` bytes out, so a small hostile frame cannot expand without bound.
    static func decompress(_ data: Data, what: String, limit: Int = Fetcher.maxRepodataSize) throws -> Data {
        guard let stream = ZSTD_createDStream() else { throw CondaError.repodata("\(what): cannot start zstd") }
        defer { ZSTD_freeDStream(stream) }
        ZSTD_initDStream(stream)
        var output = Data()
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
                    output.append(contentsOf: UnsafeRawBufferPointer(rebasing: target[0..<out.pos]))
                    return ZSTD_isError(status) != 0 ? -1 : Int(status)
                }
                guard result >= 0 else { throw CondaError.repodata("\(what) is not valid zstd") }
                guard output.count <= limit else { throw CondaError.repodata("\(what) expands to more than \(limit) bytes") }
                if result == 0 && input.pos == input.size { return }
                if produced == 0 && input.pos == input.size { throw CondaError.repodata("\(what) is truncated") }
            }
        }
        return output
    }
}
