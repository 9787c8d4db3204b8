import OCI

/// Changes to the base image's config. Unset fields keep the base's value.
public struct ConfigEdits: Sendable, Equatable {
    /// Environment variables, in order; a later value for a key wins.
    public var env: [EnvVar] = []
    /// Replaces the base's entrypoint, and drops its cmd unless `cmd` is set too (as Docker does).
    public var entrypoint: [String]?
    /// Replaces the base's cmd: the default arguments, or the command when there is no entrypoint.
    public var cmd: [String]?
    /// Replaces the base's working directory.
    public var workingDir: String?
    /// Replaces the base's user, as `USER[:GROUP]` by name or id.
    public var user: String?
    /// `80/tcp`, `8080/udp`; a bare number means tcp.
    public var exposedPorts: [String] = []
    /// Labels to add, replacing base labels with the same key.
    public var labels: [String: String] = [:]
    /// Variables (keys of `env`) whose values hold `${NAME}` references to the base image's environment,
    /// filled in when the image is built, as Docker's ENV does (`PATH=/opt/bin:$PATH`); an unset name gives "".
    public var baseReferences: Set<String> = []
    /// Replaces the base's health check; unset timings get Docker's defaults when the image is built.
    public var healthcheck: Healthcheck?

    /// An empty set of edits that keeps the base's config as it is.
    public init() {}

    /// Sets `key` to `value`, replacing an earlier value and moving the variable to the end.
    public mutating func setEnv(_ key: String, _ value: String) {
        env.removeAll { $0.key == key }
        env.append(EnvVar(key: key, value: value))
    }

    /// Adds `port` (`5001/tcp`) unless it is already exposed.
    public mutating func expose(_ port: String) {
        if !exposedPorts.contains(port) { exposedPorts.append(port) }
    }
}

/// One environment variable of the image config.
public struct EnvVar: Sendable, Equatable {
    /// The variable's name.
    public var key: String
    /// The variable's value, which may be empty.
    public var value: String

    /// A variable from a key and value, without checking the key.
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }

    /// Parses `KEY=VALUE`. The key must be a POSIX name, so that shells and runtimes agree on it.
    public init(parsing text: String) throws {
        guard let equals = text.firstIndex(of: "=") else {
            throw PlanError.invalid("environment variable '\(text)': expected KEY=VALUE")
        }
        let key = String(text[..<equals])
        let bytes = Array(key.utf8)
        let valid = !bytes.isEmpty && !(bytes[0] >= 0x30 && bytes[0] <= 0x39) && bytes.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x5f
        }
        guard valid else {
            throw PlanError.invalid("environment variable '\(text)': '\(key)' is not a valid name (letters, digits, '_', not starting with a digit)")
        }
        self.init(key: key, value: String(text[text.index(after: equals)...]))
    }
}
