/// The python environment of the image: a conda environment with its `pip:` section, from an
/// environment.yml (solved) or a lock (installed as is); or, with no conda at all, pip requirements
/// installed for the base image's own python.
public struct EnvironmentPlan: Sendable, Equatable {
    /// An environment.yml (conda dependencies, channels, `pip:` lines, variables).
    public var environmentFile: String?
    /// Requirement files (`pip install -r`), resolved after the environment file's `pip:` lines, with them.
    public var requirementFiles: [String] = []
    /// Requirement lines a front end adds (such as the inference server a scoring image needs), with the
    /// reason, so that the build can say why each was added.
    public var addedRequirements: [AddedRequirement] = []
    /// The package index for every pip requirement, over any `--index-url` in the files.
    public var indexURL: String?
    /// More package indexes, after the files' own.
    public var extraIndexURLs: [String] = []
    /// Where the base image's python is, for pip without conda; nil means "search the image".
    public var basePython: BasePython?
    /// An @EXPLICIT list or conda-lock v1 file to install without solving.
    public var lockedFile: String?
    /// Where to write the resolved environment: conda-lock v1 here, @EXPLICIT at `<path>.explicit.txt`.
    public var writeLock: String?
    /// The prefix in the image. When nil, `prefixTemplate` with `{hash}` replaced by the environment's hash.
    public var prefix: String?
    /// The default prefix, `{hash}` standing for the first 32 hex digits of the environment's definition
    /// hash. Front ends set their platform's rule (AzureML: `/azureml-envs/azureml_{hash}`).
    public var prefixTemplate = "/opt/conda/envs/env_{hash}"
    /// An environment variable that gets the prefix (AzureML: `AZUREML_CONDA_ENVIRONMENT_PATH`).
    public var prefixVariable: String?
    /// Channels (names or URLs) before the file's own.
    public var channels: [String] = []
    /// Where channel names point.
    public var channelAlias = "https://conda.anaconda.org"
    /// Virtual package overrides, `__NAME=VERSION[=BUILD]`, or `__NAME=` to remove one.
    public var virtualPackages: [String] = []
    /// Whether pip sdists with no fitting wheel are built (PEP 517), as pip and uv do; false is `--no-build`.
    public var buildsSdists = true
    /// The most seconds one sdist build step may take.
    public var buildTimeout = 1800

    /// An empty plan: no files, the default prefix template and channel alias.
    public init() {}

    /// True when a conda environment is to be made; false means pip over the base image's python.
    public var usesConda: Bool { environmentFile != nil || lockedFile != nil }

    /// The prefix for an environment whose definition hash is `hash`.
    public func resolvedPrefix(hash: String) -> String {
        prefix ?? prefixTemplate.replacingOccurrences(of: "{hash}", with: hash)
    }
}

/// A requirement line a front end adds, and why.
public struct AddedRequirement: Sendable, Equatable {
    /// A PEP 508 line, such as `azureml-inference-server-http`.
    public var line: String
    /// Why it was added, for the build's log.
    public var reason: String

    /// A requirement line and the reason it was added.
    public init(_ line: String, reason: String) {
        self.line = line
        self.reason = reason
    }
}

/// The base image's python, as a catalogue entry describes it.
public struct BasePython: Sendable, Equatable {
    /// The interpreter's path in the image: `/usr/bin/python3`.
    public var interpreter: String
    /// Where packages go; nil means the rule for the interpreter's prefix.
    public var sitePackages: String?

    /// An interpreter path, and optionally its site-packages directory.
    public init(interpreter: String, sitePackages: String? = nil) {
        self.interpreter = interpreter
        self.sitePackages = sitePackages
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
