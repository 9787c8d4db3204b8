import OCI

/// Takes a layer's compressed bytes while the layer is being written, beside its file: a registry
/// upload that overlaps the writing (go-containerregistry's `stream.Layer`), say.
///
/// A stream is best effort. The file is the layer's one true copy, so a stream that cannot keep up, or
/// fails, must never fail the layer: it throws from `write` and gets nothing more, and whoever reads it
/// falls back to the file. `write` may block for a while (backpressure), but only as long as the stream's
/// own pace allows.
public protocol LayerStream: AnyObject, Sendable {
    /// The next bytes of the compressed blob, in order, on the layer writer's thread. Throws once the
    /// stream has given up; it is not called again after that.
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// The layer is complete, and written to its file: these are its digest and size.
    func finish(digest: Digest, size: Int64)
    /// The layer failed and will not be finished; whatever was sent is to be dropped.
    func abandon()
}

/// Hands the bytes to `next`, then to `side`, a best-effort copy (a `LayerStream`). `next` is the one that
/// counts: its errors are thrown; once `side` throws, it gets nothing more and `next` carries on alone.
public final class TeeSink: ByteSink {
    private let next: ByteSink
    private var side: LayerStream?

    /// A tee writing everything to `next` and, while it keeps up, to `side`.
    public init(next: ByteSink, side: LayerStream) {
        self.next = next
        self.side = side
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try next.write(bytes)
        guard let side else { return }
        do {
            try side.write(bytes)
        } catch {
            self.side = nil
        }
    }

    /// Finishes `next`; the side is finished by whoever knows the layer's digest (`LayerWriter`).
    public func finish() throws { try next.finish() }
}
