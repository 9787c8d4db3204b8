import Archive

/// Somewhere new layers go while they are being written, beside their files: a registry sink uploads
/// them at once, so that a build's push overlaps its layer writing instead of following it.
///
/// Offered by an `ImageSink` (`layerUploads(log:)`) and handed to `ImageBuilder`, which opens one stream
/// per layer it writes anew (cached and base layers are not streamed). The sink's `write` then learns
/// which layers already arrived. A stream is best effort: one that fails leaves its layer to `write`.
public protocol LayerUploads: Sendable {
    /// A stream for a new layer described by `description` (such as `layer 2/3 (code)`), or nil to write
    /// that layer to its file only.
    func open(_ description: String) -> (any LayerStream)?
    /// Stops every stream still running, when the build failed and there will be no `write`.
    func cancel()
}
