import Foundation

/// The image configuration blob (OCI image spec `config.md`), including the Docker fields that
/// real base images carry, so that they survive a rebuild.
public struct ImageConfiguration: Hashable, Sendable, Codable {
    /// When the image was created, as an RFC 3339 date-time.
    public var created: String?
    /// The person or entity that made the image.
    public var author: String?
    /// The CPU architecture, such as `amd64` or `arm64`.
    public var architecture: String
    /// The operating system, such as `linux`.
    public var os: String
    /// The operating system version (`os.version`), mostly for Windows images.
    public var osVersion: String?
    /// Required operating system features (`os.features`).
    public var osFeatures: [String]?
    /// The CPU variant, such as `v8` for arm64.
    public var variant: String?
    /// The defaults for running a container from the image.
    public var config: ContainerConfig?
    /// The layers' diffIDs, bottom first.
    public var rootfs: RootFS
    /// One entry per build step, layer-producing or not.
    public var history: [History]?

    enum CodingKeys: String, CodingKey {
        case created, author, architecture, os, variant, config, rootfs, history
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    /// A config for `platform` with the given run settings, layers and history.
    public init(platform: Platform, config: ContainerConfig? = nil, diffIDs: [Digest] = [], history: [History]? = nil) {
        self.architecture = platform.architecture
        self.os = platform.os
        self.variant = platform.variant
        self.config = config
        self.rootfs = RootFS(diffIDs: diffIDs)
        self.history = history
    }

    /// Decodes a config and checks that it lists one diff_id per manifest layer.
    public static func decode(_ data: Data, layerCount: Int, what: String) throws -> ImageConfiguration {
        let config = try CanonicalJSON.decode(ImageConfiguration.self, from: data, what: what)
        guard config.rootfs.diffIDs.count == layerCount else {
            throw OCIError.malformedJSON(what: what, detail: "\(config.rootfs.diffIDs.count) diff_ids for \(layerCount) layers")
        }
        return config
    }

    /// The platform these fields describe.
    public var platform: Platform {
        var platform = Platform(os: os, architecture: architecture, variant: variant)
        platform.osVersion = osVersion
        platform.osFeatures = osFeatures
        return platform
    }

    /// The config's list of layer diffIDs.
    public struct RootFS: Hashable, Sendable, Codable {
        /// Always `layers`.
        public var type: String = "layers"
        /// The digests of the uncompressed layer tars, bottom first.
        public var diffIDs: [Digest]

        enum CodingKeys: String, CodingKey {
            case type
            case diffIDs = "diff_ids"
        }

        /// A rootfs listing `diffIDs`.
        public init(diffIDs: [Digest]) { self.diffIDs = diffIDs }
    }

    /// One step of the image's history.
    public struct History: Hashable, Sendable, Codable {
        /// When the step ran, as an RFC 3339 date-time.
        public var created: String?
        /// The command or tool that made the step.
        public var createdBy: String?
        /// Who made the step.
        public var author: String?
        /// A free-form note on the step.
        public var comment: String?
        /// Whether the step made no layer.
        public var emptyLayer: Bool?

        enum CodingKeys: String, CodingKey {
            case created, author, comment
            case createdBy = "created_by"
            case emptyLayer = "empty_layer"
        }

        /// A history entry with no author.
        public init(created: String?, createdBy: String?, comment: String? = nil, emptyLayer: Bool? = nil) {
            self.created = created
            self.createdBy = createdBy
            self.comment = comment
            self.emptyLayer = emptyLayer
        }
    }
}

/// The execution parameters of an image (`config` inside the image configuration).
public struct ContainerConfig: Hashable, Sendable, Codable {
    /// The user (and optionally group) processes run as.
    public var user: String?
    /// Ports to expose, as `port/protocol` keys.
    public var exposedPorts: [String: EmptyObject]?
    /// Environment variables as `KEY=VALUE` strings.
    public var env: [String]?
    /// The command run when the container starts.
    public var entrypoint: [String]?
    /// Default arguments to the entrypoint, or the command when there is no entrypoint.
    public var cmd: [String]?
    /// Directories to mount volumes on, as keys.
    public var volumes: [String: EmptyObject]?
    /// The working directory of the entrypoint.
    public var workingDir: String?
    /// Free-form metadata about the image.
    public var labels: [String: String]?
    /// The signal that stops the container, such as `SIGTERM`.
    public var stopSignal: String?
    /// A Docker field for Windows images; kept as read.
    public var argsEscaped: Bool?
    /// How to check that the container is working.
    public var healthcheck: Healthcheck?
    /// Docker `ONBUILD` instructions for images built from this one; kept as read.
    public var onBuild: [String]?
    /// The shell Docker uses for shell-form commands; kept as read.
    public var shell: [String]?

    enum CodingKeys: String, CodingKey {
        case user = "User", exposedPorts = "ExposedPorts", env = "Env", entrypoint = "Entrypoint", cmd = "Cmd"
        case volumes = "Volumes", workingDir = "WorkingDir", labels = "Labels", stopSignal = "StopSignal"
        case argsEscaped = "ArgsEscaped", healthcheck = "Healthcheck", onBuild = "OnBuild", shell = "Shell"
    }

    /// An empty container config.
    public init() {}

    /// Sets `key` in Env, replacing an earlier value for the same key and keeping the order otherwise.
    public mutating func setEnv(_ key: String, _ value: String) {
        var entries = env ?? []
        let entry = "\(key)=\(value)"
        if let at = entries.firstIndex(where: { $0 == key || $0.hasPrefix(key + "=") }) {
            entries[at] = entry
        } else {
            entries.append(entry)
        }
        env = entries
    }

    /// The value of `key` in Env.
    public func envValue(_ key: String) -> String? {
        env?.first(where: { $0.hasPrefix(key + "=") }).map { String($0.dropFirst(key.count + 1)) }
    }
}

/// A container health check; durations are in nanoseconds, as Docker stores them.
public struct Healthcheck: Hashable, Sendable, Codable {
    /// The check: `["NONE"]`, `["CMD", args…]` or `["CMD-SHELL", command]`.
    public var test: [String]?
    /// Time between checks, in nanoseconds.
    public var interval: Int64?
    /// Time a check may take before it counts as failed, in nanoseconds.
    public var timeout: Int64?
    /// Time after start during which failures do not count, in nanoseconds.
    public var startPeriod: Int64?
    /// Time between checks during the start period, in nanoseconds.
    public var startInterval: Int64?
    /// Consecutive failures needed to report the container unhealthy.
    public var retries: Int?

    enum CodingKeys: String, CodingKey {
        case test = "Test", interval = "Interval", timeout = "Timeout", startPeriod = "StartPeriod"
        case startInterval = "StartInterval", retries = "Retries"
    }

    /// A health check running `test` with Docker's default timings.
    public init(test: [String]?) { self.test = test }
}

/// `{}`: the value type of ExposedPorts and Volumes.
public struct EmptyObject: Hashable, Sendable, Codable {
    /// The empty object.
    public init() {}
    /// Decodes any JSON object, ignoring its contents.
    public init(from decoder: Decoder) throws { _ = try decoder.container(keyedBy: AnyKey.self) }
    /// Encodes `{}`.
    public func encode(to encoder: Encoder) throws { _ = encoder.container(keyedBy: AnyKey.self) }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
