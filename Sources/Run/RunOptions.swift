import Foundation
import Plan
import Images
import OCI

/// How `Kiln.run` runs and probes an image.
public struct RunOptions: Sendable {
    /// Credentials and settings for a registry image.
    public var registry = RegistrySession.Settings()
    /// The platform to pick from an index; nil means this machine's.
    public var platform: Platform?
    /// The route to wait for; nil means the image's readiness or liveness label, else its first exposed port.
    public var route: Route?
    /// Where `request` is POSTed; nil means the image's scoring label, else `5001:/score`.
    public var scoringRoute: Route?
    /// Seconds to wait for the route to answer (and for the scoring answer).
    public var timeout: Double = 120
    /// A JSON body to POST to the scoring route once the server is up.
    public var request: Data?
    /// Ctrl-C and SIGTERM stop the container, remove its files, and exit the process with 130 (SIGINT) or 143 (SIGTERM). Turn this
    /// off when the program handles signals itself; cancelling the task also cleans up.
    public var handleSignals = true
    /// Where the work directory (bundle, runc state, log) is made; the system's temporary directory when nil.
    public var temporaryDirectory: URL?
    /// Progress, one line at a time.
    public var log: @Sendable (String) -> Void = { _ in }

    /// Default options: wait up to 120 s for the image's own route, send nothing.
    public init() {}
}

/// What a run found.
public struct RunResult: Sendable, Encodable {
    /// The digest of the manifest that was run.
    public var manifestDigest: String
    /// The answer to the wait route's GET.
    public var ready: ProbeAnswer
    /// The answer to the POSTed request, when there was one.
    public var scoring: ProbeAnswer?
}
