import OCI

/// Everything a build needs, as a plain value: where the image starts, what goes into it, and how its
/// config changes. Front ends (the CLI's flags, AzureML's files) fill one in; `Kiln.build` realises it.
/// A plan holds no credentials and does no I/O.
public struct BuildPlan: Sendable, Equatable {
    /// The image to build on: `scratch`, an OCI layout, a docker-archive or a registry image.
    public var base: ImageLocation = .scratch
    /// The target platform; nil means the base image's, or the host's over `scratch`.
    public var platform: Platform?
    /// Host files to add, one layer each, ordered by `LayerSpec.Kind` when written.
    public var layers: [LayerSpec] = []
    /// Changes to the base image's config.
    public var config = ConfigEdits()
    /// How new layers are compressed.
    public var compression: LayerCompression = .gzip
    /// Seconds since the epoch for every mtime and the config's `created` (`SOURCE_DATE_EPOCH`).
    public var sourceDateEpoch: Int64 = BuildPlan.defaultEpoch
    /// A conda environment (with its `pip:` section) to realise into layers, if any.
    public var environment: EnvironmentPlan?

    /// 1970-01-01T00:00:00Z: a fixed time, so that builds do not depend on the clock.
    public static let defaultEpoch: Int64 = 0

    /// An empty plan: `scratch`, no layers, no config changes, gzip, the fixed epoch.
    public init() {}

    /// The layers from the least to the most often changed (environment, model, extra files, code),
    /// keeping the given order within each kind, so that a code edit re-uploads only the top layer.
    public var orderedLayers: [LayerSpec] {
        layers.enumerated().sorted { ($0.element.kind.rank, $0.offset) < ($1.element.kind.rank, $1.offset) }.map(\.element)
    }
}
