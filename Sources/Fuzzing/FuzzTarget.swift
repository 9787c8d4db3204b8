import Foundation

/// One untrusted-input parser of Kiln, fed raw bytes through the entry point production code uses.
/// Thrown errors are the parsers' normal answer to bad input and are swallowed; a crash, trap, hang or
/// unbounded allocation is a finding.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// Image layers (lenient names) and conda packages (strict names, zip accepted) via `TarReader`.
    case tar
    /// Wheels: `ZipDirectory`'s central directory, then every member's contents.
    case zip
    /// A channel's repodata.json through `ChannelIndex` (the scanner, then record decoding).
    case repodata
    /// Conda `MatchSpec`, `CondaVersion` and `VersionSpec`.
    case condaSpec = "conda-spec"
    /// PEP 440 versions and specifiers, PEP 508 requirements and markers.
    case pep508
    /// requirements.txt files through `RequirementsFile`.
    case requirements
    /// `WWW-Authenticate` headers through `Challenge.parse`.
    case challenge
    /// Image references (`Reference`) and image locations (`ImageLocation`).
    case reference
    /// OCI manifests, indexes and image configs, decoded as the registry client and layouts do.
    case ociJSON = "oci-json"
    /// AzureML inferenceconfig.json through `InferenceConfig.load`.
    case inferenceConfig = "inference-config"
    /// YAML: conda environment files, AzureML environment assets and deployments.
    case yaml
    /// PEP 503 simple-API HTML pages (a `--find-links` page through `IndexClient`).
    case simpleIndex = "simple-index"
    /// Dockerfiles through `Dockerfile.parse`.
    case dockerfile
    /// An sdist's `pyproject.toml` `[build-system]` (`BuildSystem.parse`) and its PKG-INFO (PEP 643's static test).
    case pyproject
    /// sdist archives (tar.gz, zip) through `SourceArchive.extract`, which refuses hostile members.
    case sdist

    /// Feeds `data` to the parser. Never throws: only crashes count. Call it from a plain thread (as libFuzzer
    /// does), not from a Swift concurrency task: the async parsers are waited for, which needs the pool's threads.
    public func run(_ data: Data) {
        switch self {
        case .tar: Harness.tar(data)
        case .zip: Harness.zip(data)
        case .repodata: Harness.repodata(data)
        case .condaSpec: Harness.condaSpec(data)
        case .pep508: Harness.pep508(data)
        case .requirements: Harness.requirements(data)
        case .challenge: Harness.challenge(data)
        case .reference: Harness.reference(data)
        case .ociJSON: Harness.ociJSON(data)
        case .inferenceConfig: Harness.inferenceConfig(data)
        case .yaml: Harness.yaml(data)
        case .simpleIndex: Harness.simpleIndex(data)
        case .dockerfile: Harness.dockerfile(data)
        case .pyproject: Harness.pyproject(data)
        case .sdist: Harness.sdist(data)
        }
    }

    /// The libFuzzer form: the bytes libFuzzer hands `LLVMFuzzerTestOneInput`.
    public func run(_ bytes: UnsafeRawBufferPointer) {
        run(Data(bytes))
    }

    /// A `-max_len` that fits what the parser usually sees.
    public var maxLength: Int {
        switch self {
        case .tar, .zip, .sdist: return 64 << 10
        case .repodata: return 32 << 10
        case .yaml, .ociJSON, .simpleIndex, .requirements, .dockerfile, .inferenceConfig, .pyproject: return 16 << 10
        case .condaSpec, .pep508, .challenge, .reference: return 1 << 10
        }
    }
}
