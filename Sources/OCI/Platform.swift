/// The platform an image runs on, as in an index entry or an image config.
public struct Platform: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The operating system, such as `linux`.
    public var os: String
    /// The CPU architecture, such as `amd64` or `arm64`.
    public var architecture: String
    /// The CPU variant, such as `v8` for arm64.
    public var variant: String?
    /// The operating system version (`os.version`), mostly for Windows images.
    public var osVersion: String?
    /// Required operating system features (`os.features`).
    public var osFeatures: [String]?

    enum CodingKeys: String, CodingKey {
        case os, architecture, variant
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    /// A platform from its os, architecture and optional variant.
    public init(os: String, architecture: String, variant: String? = nil) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
    }

    /// Parses `os/arch[/variant]`, e.g. `linux/arm64/v8`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (2...3).contains(parts.count), parts.allSatisfy({ !$0.isEmpty }) else {
            throw OCIError.invalidPlatform(text)
        }
        self.init(os: parts[0], architecture: parts[1], variant: parts.count == 3 ? parts[2] : nil)
    }

    /// The platform of the machine Kiln was built for; the default target.
    public static var host: Platform {
        #if arch(arm64)
        return Platform(os: "linux", architecture: "arm64", variant: "v8")
        #else
        return Platform(os: "linux", architecture: "amd64")
        #endif
    }

    /// The platform as `os/arch[/variant]`.
    public var description: String {
        [os, architecture, variant].compactMap { $0 }.joined(separator: "/")
    }

    /// The variant with the spec's defaults filled in: arm64 means v8 when unset.
    var normalizedVariant: String? {
        if let variant, !variant.isEmpty { return variant }
        return architecture == "arm64" ? "v8" : nil
    }

    /// Whether an image for `self` satisfies a request for `wanted`. An unset variant in the request
    /// matches any variant, as containerd's matcher does.
    public func satisfies(_ wanted: Platform) -> Bool {
        guard os == wanted.os, architecture == wanted.architecture else { return false }
        guard wanted.variant != nil else { return true }
        return normalizedVariant == wanted.normalizedVariant
    }
}
