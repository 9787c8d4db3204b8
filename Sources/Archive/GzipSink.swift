import CIsal
import CZlib
import Dispatch
import Foundation

/// gzip, compressed on every core, with output that depends only on the input.
///
/// The stream is cut into fixed 1 MiB blocks, as pigz does. Each block is judged by its own bytes
/// (`Block.incompressible`): one that will not compress (weights in fp32, archives, random data) goes out
/// as stored deflate blocks, at memory speed; the others are deflated at level 1 by `DeflateEngine.current`,
/// primed with the previous block's last 32 KiB as a dictionary, and end with a sync flush, so that the pieces
/// join into one valid deflate stream. Each worker also computes its block's CRC-32; the trailer's CRC joins
/// them with `crc32_combine`, as pigz does. Block boundaries, the gate and the level never depend on timing or
/// core count, and the engine gives the same bytes on every CPU it is chosen for. The header is fixed (no name, mtime 0,
/// OS 255 "unknown") where zlib would write the build host's OS code. At most a few blocks are in
/// flight, so memory stays bounded.
public final class GzipSink: ByteSink {
    static let blockSize = 1 << 20
    static let window = 32 * 1024
    static let header: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]

    private let next: ByteSink
    private let engine: DeflateEngine
    private let maxInFlight: Int
    private let queue = DispatchQueue(label: "kiln.gzip", attributes: .concurrent)
    private var block: [UInt8] = []
    private var dictionary: [UInt8] = []
    private var pending: [Job] = []
    private var crc: UInt = crc32(0, nil, 0)
    private var length: UInt64 = 0
    private var started = false
    private var finished = false
    /// Whether a spliced member was written.
    private var spliced = false
    /// The compressor for blocks deflated on the writer's own thread.
    private var inline: (any BlockDeflater)?

    /// `engine` defaults to this machine's (`DeflateEngine.current`), which fails only for a bad `KILN_DEFLATE`.
    public init(next: ByteSink, engine: DeflateEngine? = nil) throws {
        self.next = next
        self.engine = try engine ?? DeflateEngine.current.get()
        maxInFlight = max(2, ProcessInfo.processInfo.activeProcessorCount * 2)
        block = BufferPool.blocks.take()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        length &+= UInt64(bytes.count)
        var offset = 0
        while offset < bytes.count {
            let take = min(Self.blockSize - block.count, bytes.count - offset)
            block.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            offset += take
            if block.count == Self.blockSize { try submit(last: false) }
        }
    }

    public func finish() throws {
        guard !finished else { return }
        finished = true
        // After a spliced member with nothing behind it, there is no member left to end.
        if length > 0 || !spliced { try endMember() }
        try next.finish()
    }

    /// Ends the current member: its last block (final), then the trailer; the next write starts a new one.
    private func endMember() throws {
        try submit(last: true)
        while !pending.isEmpty { try drainOne() }
        try Self.trailer(crc: UInt32(truncatingIfNeeded: crc), length: length).withUnsafeBytes { try next.write($0) }
        crc = crc32(0, nil, 0)
        length = 0
        dictionary = []
        started = false
    }

    static func trailer(crc: UInt32, length: UInt64) -> [UInt8] {
        var trailer = [UInt8]()
        for shift in stride(from: 0, to: 32, by: 8) { trailer.append(UInt8(truncatingIfNeeded: crc >> UInt32(shift))) }
        for shift in stride(from: 0, to: 32, by: 8) { trailer.append(UInt8(truncatingIfNeeded: length >> UInt64(shift))) }
        return trailer
    }

    // MARK: Splicing deflate data that is already compressed

    /// Starts a gzip member whose deflate data the caller passes as it is (`writeSpliced`), such as a wheel
    /// member's: the bytes before it end a member of their own. A gzip file may hold many members, and
    /// readers (RFC 1952 §2.2, Go's and Python's gzip, zlib's gunzip) read them as one stream. Where the
    /// members are cut depends only on the input, so the output stays reproducible.
    public func beginSplice() throws {
        if length > 0 { try endMember() }
        spliced = true
        try Self.header.withUnsafeBytes { try next.write($0) }
    }

    /// Raw deflate data of the spliced member, a complete deflate stream once all of it is written.
    public func writeSpliced(_ bytes: UnsafeRawBufferPointer) throws {
        try next.write(bytes)
    }

    /// Ends the spliced member with the CRC-32 and length of the bytes its deflate data stands for.
    public func endSplice(crc: UInt32, size: Int64) throws {
        try Self.trailer(crc: crc, length: UInt64(size)).withUnsafeBytes { try next.write($0) }
    }

    private func submit(last: Bool) throws {
        let job = Job(input: block, dictionary: dictionary, last: last, engine: engine)
        dictionary = block.count >= Self.window ? Array(block.suffix(Self.window)) : Array((dictionary + block).suffix(Self.window))
        block = BufferPool.blocks.take()
        pending.append(job)
        // A short last block (the tar headers between spliced members) costs less here than a hand-off to a
        // worker, and reuses one compressor: a fresh one clears about 300 KiB of tables.
        if last, pending.count == 1, job.input.count < Self.window {
            if inline == nil { inline = try engine.makeDeflater() }
            job.run(reusing: inline)
        } else {
            queue.async { job.run() }
        }
        while pending.count > maxInFlight { try drainOne() }
    }

    /// Waits for the oldest block and writes it, keeping the output in input order.
    private func drainOne() throws {
        let job = pending.removeFirst()
        job.done.wait()
        if let error = job.error { throw error }
        crc = crc32_combine(crc, job.crc, Int(job.input.count))
        if !started {
            started = true
            try Self.header.withUnsafeBytes { try next.write($0) }
        }
        var output: [UInt8] = []
        swap(&output, &job.output)
        BufferPool.blocks.recycle(&job.input)
        try next.write(owned: consume output)
    }

    /// One block's raw deflate, run on a worker thread; it touches only its own buffers.
    final class Job: @unchecked Sendable {
        var input: [UInt8]
        let dictionary: [UInt8]
        let last: Bool
        let engine: DeflateEngine
        var output: [UInt8] = []
        var crc: UInt = 0
        var error: Error?
        let done = DispatchSemaphore(value: 0)

        init(input: [UInt8], dictionary: [UInt8], last: Bool, engine: DeflateEngine) {
            self.input = input
            self.dictionary = dictionary
            self.last = last
            self.engine = engine
        }

        func run(reusing deflater: (any BlockDeflater)? = nil) {
            defer { done.signal() }
            // ISA-L's CRC-32 (the gzip polynomial, reflected): the same value as zlib's crc32, 4× faster.
            crc = UInt(input.withUnsafeBufferPointer { crc32_gzip_refl(0, $0.baseAddress, UInt64($0.count)) })
            if Block.incompressible(input) {
                output = Block.stored(input, last: last, into: BufferPool.blocks.take())
                return
            }
            do {
                output = try (deflater ?? engine.makeDeflater()).deflate(input, dictionary: dictionary, last: last)
            } catch {
                self.error = error
            }
        }
    }
}

/// The per-block rule that decides between storing and deflating, and the stored form.
enum Block {
    /// Blocks scoring below this are stored. Measured on 1 MiB blocks (a 256 KiB sample): random bytes
    /// score about 250, English text about 2·10⁶, fp16 weights about 2·10⁵; 1,000 leaves room on both sides.
    static let threshold: UInt64 = 1_000
    /// Shorter blocks (a stream's last) are always deflated: too few bytes for the statistic, and cheap.
    static let minimumSize = 4096

    /// The histogram counts the first `sampleRun` bytes of every `sampleStride`: a quarter of the block,
    /// spread over all of it. Counting is bound by one store per byte; the statistic for random bytes does
    /// not grow with the count (about 255, its degrees of freedom) while text's grows with it, so a quarter
    /// separates them as well as the whole does, at a quarter of the cost.
    static let sampleRun = 4096
    static let sampleStride = 16384

    /// Pearson's chi-square of the sampled byte histogram against a uniform one, in integers:
    /// (256 · Σ countᵢ² − n²) / n. Data that will not compress has nearly uniform bytes.
    static func score(_ bytes: [UInt8]) -> UInt64 {
        // Four tables, one per byte lane: with one, each increment waits for the previous one whenever
        // neighbouring bytes are equal, as they are in text.
        var counts = [UInt32](repeating: 0, count: 4 * 256)
        var n = 0
        bytes.withUnsafeBufferPointer { buffer in
            counts.withUnsafeMutableBufferPointer { table in
                guard let base = table.baseAddress else { return }
                var start = 0
                while start < buffer.count {
                    let end = min(start + sampleRun, buffer.count)
                    n += end - start
                    var index = start
                    while index + 4 <= end {
                        base[Int(buffer[index])] &+= 1
                        base[256 + Int(buffer[index + 1])] &+= 1
                        base[512 + Int(buffer[index + 2])] &+= 1
                        base[768 + Int(buffer[index + 3])] &+= 1
                        index += 4
                    }
                    while index < end {
                        base[Int(buffer[index])] &+= 1
                        index += 1
                    }
                    start += sampleStride
                }
            }
        }
        guard n > 0 else { return 0 }
        var squares: UInt64 = 0
        for value in 0..<256 {
            let count = UInt64(counts[value]) &+ UInt64(counts[256 + value]) &+ UInt64(counts[512 + value]) &+ UInt64(counts[768 + value])
            squares &+= count &* count
        }
        let total = UInt64(n)
        return (256 &* squares &- total &* total) / total
    }

    static func incompressible(_ bytes: [UInt8]) -> Bool {
        bytes.count >= minimumSize && score(bytes) < threshold
    }

    /// `bytes` as stored deflate blocks of at most 65,535 bytes (RFC 1951 §3.2.4): a header byte (BFINAL
    /// only on the stream's last), LEN and its complement, the bytes. The stream is byte-aligned before
    /// each block, since every block before it ends with a sync flush or is stored itself.
    static func stored(_ bytes: [UInt8], last: Bool, into output: consuming [UInt8] = []) -> [UInt8] {
        output.reserveCapacity(bytes.count + (bytes.count / 65_535 + 1) * 5)
        var offset = 0
        repeat {
            let length = min(65_535, bytes.count - offset)
            let final = last && offset + length == bytes.count
            output.append(final ? 1 : 0)
            output.append(UInt8(length & 0xff))
            output.append(UInt8(length >> 8))
            output.append(UInt8(~length & 0xff))
            output.append(UInt8((~length >> 8) & 0xff))
            output.append(contentsOf: bytes[offset..<(offset + length)])
            offset += length
        } while offset < bytes.count
        return output
    }
}
