import Conda
import Foundation
import HTTP
import Images
import Registry

/// How a build, copy or environment install reaches the outside world: registries, the package
/// cache, progress. Nothing here changes the image's bytes.
public struct BuildOptions: Sendable {
    /// Credentials, plain-HTTP hosts, chunk size, CA file and request log for registries.
    public var registry = RegistrySession.Settings()
    /// Credentials for the base image's registry only (an inference config's `baseImageRegistry`);
    /// never offered to the output registry.
    public var baseCredentials: [String: Credential] = [:]
    /// Tags to push to a registry destination; its reference's own tag when empty.
    public var tags: [String] = []
    /// Where conda packages, repodata, wheels and index pages are cached.
    public var cacheDirectory: URL = Fetcher.defaultCacheDirectory
    /// Reuse finished layers whose inputs' metadata is unchanged (`LayerCache`, under `cacheDirectory/layers`).
    public var layerCache = true
    /// Upload each new layer to a registry destination while it is written (one streamed PATCH, as
    /// go-containerregistry's `stream.Layer`), instead of after the build; a stream that fails falls back
    /// to the ordinary upload from the layer's file. On unless `KILN_STREAM_PUSH=0`.
    public var streamLayers = ProcessInfo.processInfo.environment["KILN_STREAM_PUSH"] != "0"
    /// SIGINT and SIGTERM remove the job's staging directory and exit the process with 130 or 143. For
    /// command-line programs; a program that handles signals itself leaves it off and cancels the task.
    public var handleSignals = false
    /// Progress and warnings, one line at a time, with secrets already redacted.
    public var log: @Sendable (String) -> Void = { _ in }

    /// Default options: standard registry settings, no extra tags, the default cache, no log.
    public init() {}

    var fetcher: Fetcher {
        Fetcher(cacheDirectory: cacheDirectory, http: HTTPClients.shared(caFile: registry.caFile))
    }
}
