/// A conda environment, with its `pip:` section, for the image: from an environment.yml (solved) or a
/// lock (installed as is).
public struct EnvironmentPlan: Sendable, Equatable {
    /// An environment.yml (conda dependencies, channels, `pip:` lines, variables).
    public var environmentFile: String?
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

    /// An empty plan: no files, the default prefix template and channel alias.
    public init() {}

    /// The prefix for an environment whose definition hash is `hash`.
    public func resolvedPrefix(hash: String) -> String {
        prefix ?? prefixTemplate.replacingOccurrences(of: "{hash}", with: hash)
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
