import Foundation

/// The image configuration blob (OCI image spec `config.md`), including the Docker fields that
/// real base images carry, so that they survive a rebuild.
public struct ImageConfiguration: Hashable, Sendable, Codable {
    public var created: String?
    public var author: String?
    public var architecture: String
    public var os: String
    public var osVersion: String?
    public var osFeatures: [String]?
    public var variant: String?
    public var config: ContainerConfig?
    public var rootfs: RootFS
    public var history: [History]?

    enum CodingKeys: String, CodingKey {
        case created, author, architecture, os, variant, config, rootfs, history
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

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

    public var platform: Platform {
        var platform = Platform(os: os, architecture: architecture, variant: variant)
        platform.osVersion = osVersion
        platform.osFeatures = osFeatures
        return platform
    }

    public struct RootFS: Hashable, Sendable, Codable {
        public var type: String = "layers"
        public var diffIDs: [Digest]

        enum CodingKeys: String, CodingKey {
            case type
            case diffIDs = "diff_ids"
        }

        public init(diffIDs: [Digest]) { self.diffIDs = diffIDs }
    }

    public struct History: Hashable, Sendable, Codable {
        public var created: String?
        public var createdBy: String?
        public var author: String?
        public var comment: String?
        public var emptyLayer: Bool?

        enum CodingKeys: String, CodingKey {
            case created, author, comment
            case createdBy = "created_by"
            case emptyLayer = "empty_layer"
        }

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
    public var user: String?
    public var exposedPorts: [String: EmptyObject]?
    public var env: [String]?
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var volumes: [String: EmptyObject]?
    public var workingDir: String?
    public var labels: [String: String]?
    public var stopSignal: String?
    public var argsEscaped: Bool?
    public var healthcheck: Healthcheck?
    public var onBuild: [String]?
    public var shell: [String]?

    enum CodingKeys: String, CodingKey {
        case user = "User", exposedPorts = "ExposedPorts", env = "Env", entrypoint = "Entrypoint", cmd = "Cmd"
        case volumes = "Volumes", workingDir = "WorkingDir", labels = "Labels", stopSignal = "StopSignal"
        case argsEscaped = "ArgsEscaped", healthcheck = "Healthcheck", onBuild = "OnBuild", shell = "Shell"
    }

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
    public var test: [String]?
    public var interval: Int64?
    public var timeout: Int64?
    public var startPeriod: Int64?
    public var startInterval: Int64?
    public var retries: Int?

    enum CodingKeys: String, CodingKey {
        case test = "Test", interval = "Interval", timeout = "Timeout", startPeriod = "StartPeriod"
        case startInterval = "StartInterval", retries = "Retries"
    }

    public init(test: [String]?) { self.test = test }
}

/// `{}`: the value type of ExposedPorts and Volumes.
public struct EmptyObject: Hashable, Sendable, Codable {
    public init() {}
    public init(from decoder: Decoder) throws { _ = try decoder.container(keyedBy: AnyKey.self) }
    public func encode(to encoder: Encoder) throws { _ = encoder.container(keyedBy: AnyKey.self) }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
