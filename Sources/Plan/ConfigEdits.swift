/// Changes to the base image's config. Unset fields keep the base's value.
public struct ConfigEdits: Sendable, Equatable {
    /// Environment variables, in order; a later value for a key wins.
    public var env: [EnvVar] = []
    /// Replaces the base's entrypoint, and drops its cmd unless `cmd` is set too (as Docker does).
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var workingDir: String?
    public var user: String?
    /// `80/tcp`, `8080/udp`; a bare number means tcp.
    public var exposedPorts: [String] = []
    public var labels: [String: String] = [:]

    public init() {}

    /// Sets `key` to `value`, replacing an earlier value and moving the variable to the end.
    public mutating func setEnv(_ key: String, _ value: String) {
        env.removeAll { $0.key == key }
        env.append(EnvVar(key: key, value: value))
    }
}

/// One environment variable of the image config.
public struct EnvVar: Sendable, Equatable {
    public var key: String
    public var value: String

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
