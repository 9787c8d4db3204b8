import Archive
import OCI

/// Everything a build needs, as a plain value. Front ends (the CLI flags, AzureML configs) produce it;
/// `ImageBuilder` consumes it. It holds no credentials and does no I/O.
public struct BuildPlan: Sendable, Equatable {
    public var base: BaseImage = .scratch
    /// The target platform; nil means the base image's, or the host's over `scratch`.
    public var platform: Platform?
    public var layers: [LayerSpec] = []
    public var config = ConfigEdits()
    public var compression: LayerCompression = .gzip
    /// Seconds since the epoch for every mtime and the config's `created`; SOURCE_DATE_EPOCH sets it.
    public var sourceDateEpoch: Int64 = BuildPlan.defaultEpoch
    /// A conda environment to realize into layers, if any.
    public var conda: CondaPlan?

    /// 1970-01-01T00:00:00Z: a fixed time, so that builds do not depend on the clock.
    public static let defaultEpoch: Int64 = 0

    public init() {}

    /// The layers from the least to the most often changed (model, then extra files, then code),
    /// keeping the given order within each kind, so that a code edit re-uploads only the top layer.
    public var orderedLayers: [LayerSpec] {
        layers.enumerated().sorted { ($0.element.kind.rank, $0.offset) < ($1.element.kind.rank, $1.offset) }.map(\.element)
    }
}

/// Where the image starts from.
public enum BaseImage: Sendable, Equatable {
    case scratch
    /// An OCI layout directory, and the tag inside it (`oci:DIR[:TAG]`).
    case layout(path: String, tag: String?)
    /// An image in a registry.
    case registry(Reference)
}

/// One layer to write: a named group of host inputs.
public struct LayerSpec: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case environment, model, files, code

        var rank: Int {
            switch self {
            case .environment: return 0
            case .model: return 1
            case .files: return 2
            case .code: return 3
            }
        }
    }

    public var kind: Kind
    /// A short description for the image history: "model churn:3".
    public var description: String
    public var inputs: [LayerInput]

    public init(kind: Kind, description: String, inputs: [LayerInput]) {
        self.kind = kind
        self.description = description
        self.inputs = inputs
    }
}

/// A conda environment for the image: from an environment.yml (solved) or a lock (installed as is).
public struct CondaPlan: Sendable, Equatable {
    /// environment.yml (from --conda-file or an inference config's condaFile).
    public var environmentFile: String?
    /// `--locked FILE`: an @EXPLICIT list or conda-lock v1 to install without solving.
    public var lockedFile: String?
    /// `--lock FILE`: where to write the resolved environment (conda-lock v1, plus FILE.explicit.txt).
    public var writeLock: String?
    /// `--env-prefix`; default `/azureml-envs/azureml_<definition hash>`.
    public var prefix: String?
    /// `--channel` values, before the file's own channels.
    public var channels: [String] = []
    public var channelAlias = "https://conda.anaconda.org"
    /// `--virtual-package NAME=VERSION[=BUILD]`.
    public var virtualPackages: [String] = []

    public init() {}
}

/// Changes to the base image's config. Unset fields keep the base's value.
public struct ConfigEdits: Sendable, Equatable {
    /// Environment variables, in order; a later value for a key wins.
    public var env: [EnvVar] = []
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var workingDir: String?
    public var user: String?
    /// `80/tcp`, `8080/udp`; a bare number means tcp.
    public var exposedPorts: [String] = []
    public var labels: [String: String] = [:]

    public init() {}

    public mutating func setEnv(_ key: String, _ value: String) {
        env.removeAll { $0.key == key }
        env.append(EnvVar(key: key, value: value))
    }
}

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
            throw BuildError.invalidArgument("--env '\(text)': expected KEY=VALUE")
        }
        let key = String(text[..<equals])
        let bytes = Array(key.utf8)
        let valid = !bytes.isEmpty && !(bytes[0] >= 0x30 && bytes[0] <= 0x39) && bytes.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x5f
        }
        guard valid else {
            throw BuildError.invalidArgument("--env '\(text)': '\(key)' is not a valid variable name (letters, digits, '_', not starting with a digit)")
        }
        self.init(key: key, value: String(text[text.index(after: equals)...]))
    }
}
