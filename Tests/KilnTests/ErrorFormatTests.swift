import Archive
import AzureML
import Conda
import Foundation
import HTTP
import Kiln
@testable import Pip
import Registry
import Run
import Testing

/// Every case of every public error Kiln's library throws prints as one line a user can read: not empty, no
/// Swift type dump, and naming its subject (a URL, path, package or value).
///
/// The `caseName` switches have no `default`: a new case stops this file compiling until it gets a name
/// there and a sample in `samples` (the test then checks every named case has one).
@Suite struct ErrorFormatTests {
    struct Sample: CustomStringConvertible {
        var error: any Error
        /// What the message must name.
        var subject: String
        var description: String { "\(type(of: error)).\(ErrorFormatTests.caseName(error))" }
    }

    static let url = SafeURL("https://user:s3cret@myregistry.azurecr.io/v2/ml/churn/manifests/3?sig=abc")

    // Computed: the library's errors are not all Sendable, so the tests take indices.
    static var samples: [Sample] { [
        // OCI
        Sample(error: OCIError.invalidDigest("sha256:zz", reason: "expected 64 hex digits"), subject: "sha256:zz"),
        Sample(error: OCIError.invalidReference("myregistry.azurecr.io/ML/Churn", reason: "repository names are lowercase"), subject: "ML/Churn"),
        Sample(error: OCIError.invalidPlatform("linux"), subject: "'linux'"),
        Sample(error: OCIError.malformedJSON(what: "manifest sha256:0123", detail: "missing mediaType"), subject: "manifest sha256:0123"),
        Sample(error: OCIError.layout(path: "/srv/out/churn", reason: "no index.json"), subject: "/srv/out/churn"),
        Sample(error: OCIError.noMatchingManifest("linux/arm64 in myregistry.azurecr.io/ml/churn:3"), subject: "linux/arm64"),
        // Archive
        Sample(error: ArchiveError.missingSource("/data/model.pkl"), subject: "/data/model.pkl"),
        Sample(error: ArchiveError.unreadable("/data/secret.bin", errno: EACCES), subject: "/data/secret.bin"),
        Sample(error: ArchiveError.symlinkEscapes(path: "/src/link", target: "../../etc/passwd", root: "/src"), subject: "/src/link"),
        Sample(error: ArchiveError.unsupportedFileType("/src/fifo"), subject: "/src/fifo"),
        Sample(error: ArchiveError.conflictingDestinations("/app/a.txt", first: "/x/a.txt", second: "/y/a.txt"), subject: "/app/a.txt"),
        Sample(error: ArchiveError.invalidDestination("app", reason: "must be absolute"), subject: "'app'"),
        Sample(error: ArchiveError.changedDuringBuild("/data/log.txt"), subject: "/data/log.txt"),
        Sample(error: ArchiveError.write("/out/blobs/sha256/tmp: No space left on device"), subject: "/out/blobs"),
        Sample(error: ArchiveError.compression("deflate failed (-2)"), subject: "layer"),
        Sample(error: ArchiveError.hostileMember("../etc/passwd", reason: "leaves the root"), subject: "../etc/passwd"),
        Sample(error: ArchiveError.read("/base/layer.tar", detail: "truncated gzip"), subject: "/base/layer.tar"),
        Sample(error: ArchiveError.notUTF8(directory: "/src/data", name: "bad-\\xff"), subject: "/src/data"),
        // Plan
        Sample(error: PlanError.invalid("--env 'NOEQUALS': expected K=V"), subject: "NOEQUALS"),
        Sample(error: PlanError.notSupported("RUN in extraDockerfileSteps"), subject: "RUN"),
        // Images
        Sample(error: ImageError.base("myregistry.azurecr.io/base:1 has no linux/amd64 image"), subject: "myregistry.azurecr.io/base:1"),
        Sample(error: ImageError.output("/srv/out/app.tar already exists"), subject: "/srv/out/app.tar"),
        Sample(error: ImageError.source("oci:/srv/out/churn is missing layer blob sha256:0123"), subject: "oci:/srv/out/churn"),
        // AzureML
        Sample(error: AzureMLError.missingFile("entryScript", "/work/code/score.py"), subject: "/work/code/score.py"),
        Sample(error: AzureMLError.malformed("/work/inferenceconfig.json", "line 3: unexpected '}'"), subject: "/work/inferenceconfig.json"),
        Sample(error: AzureMLError.invalid("/work/deployment.yml", "line 4: instance_count must be a number"), subject: "/work/deployment.yml"),
        Sample(error: AzureMLError.model("'churn=outputs': expected NAME:VERSION=PATH"), subject: "churn=outputs"),
        Sample(error: AzureMLError.dockerfile(path: "/work/Dockerfile", line: 7, message: "RUN is not supported"), subject: "/work/Dockerfile line 7"),
        // Registry
        Sample(error: RegistryError.http(status: 500, method: "GET", url: url, code: "UNKNOWN", message: "boom"), subject: "myregistry.azurecr.io"),
        Sample(error: RegistryError.unauthorized(registry: "myregistry.azurecr.io", detail: "401 from the token server"), subject: "myregistry.azurecr.io"),
        Sample(error: RegistryError.insufficientScope(registry: "myregistry.azurecr.io", scope: "repository:ml/churn:push"), subject: "ml/churn"),
        Sample(error: RegistryError.digestMismatch(what: "blob of ml/churn", expected: "sha256:aa", actual: "sha256:bb"), subject: "ml/churn"),
        Sample(error: RegistryError.protocolViolation("tag list of ml/churn is not valid JSON"), subject: "ml/churn"),
        Sample(error: RegistryError.network(url: url, detail: "connection refused"), subject: "myregistry.azurecr.io"),
        Sample(error: RegistryError.insecureRegistry("registry.local:5000"), subject: "registry.local:5000"),
        Sample(error: RegistryError.notFound("manifest myregistry.azurecr.io/ml/churn:9"), subject: "ml/churn:9"),
        Sample(error: RegistryError.credentials("docker-credential-acr for myregistry.azurecr.io exited with 1"), subject: "myregistry.azurecr.io"),
        Sample(error: RegistryError.tls("myregistry.azurecr.io: certificate expired"), subject: "myregistry.azurecr.io"),
        // HTTP
        Sample(error: HTTPError.caFile("/etc/ssl/mine.pem", fromEnvironment: false), subject: "/etc/ssl/mine.pem"),
        Sample(error: HTTPError.caFile("/etc/ssl/env.pem", fromEnvironment: true), subject: "SSL_CERT_FILE"),
        Sample(error: HTTPError.tooLarge(url, limit: 4_194_304), subject: "myregistry.azurecr.io"),
        Sample(error: HTTPError.tooSlow(url, bytes: 0, seconds: 30), subject: "myregistry.azurecr.io"),
        Sample(error: HTTPError.broken(url, "connection closed"), subject: "myregistry.azurecr.io"),
        // Conda
        Sample(error: CondaError.invalidVersion("1..2", "empty component"), subject: "1..2"),
        Sample(error: CondaError.invalidSpec("numpy >>1", "bad operator"), subject: "numpy >>1"),
        Sample(error: CondaError.repodata("https://conda.anaconda.org/t/tk-123/conda-forge/linux-64/repodata.json: 404"), subject: "conda-forge/linux-64"),
        Sample(error: CondaError.unsatisfiable("numpy 2.* needs python >=3.10, but python 3.8 was asked for"), subject: "numpy"),
        Sample(error: CondaError.package("hello-1.0-0.conda: sha256 mismatch"), subject: "hello-1.0-0.conda"),
        Sample(error: CondaError.environmentFile("/work/environment.yml: dependencies is not a list"), subject: "/work/environment.yml"),
        Sample(error: CondaError.lockFile("/work/env.lock has no conda packages for linux-64"), subject: "/work/env.lock"),
        Sample(error: CondaError.install("/opt/env/bin/python: binary placeholder shorter than the prefix"), subject: "/opt/env/bin/python"),
        // Pip
        Sample(error: PipError.invalidVersion("1.0-beta-x"), subject: "1.0-beta-x"),
        Sample(error: PipError.invalidSpecifier(">=>1", "unknown operator"), subject: ">=>1"),
        Sample(error: PipError.invalidRequirement("numpy[", "unclosed extras"), subject: "numpy["),
        Sample(error: PipError.invalidMarker("python_version >", "missing value"), subject: "python_version"),
        Sample(error: PipError.requirementsFile("/work/requirements.txt line 2: -e is not supported"), subject: "/work/requirements.txt"),
        Sample(error: PipError.index("--find-links /wheels does not exist"), subject: "/wheels"),
        Sample(error: PipError.metadata("alpha-1.0-py3-none-any.whl: METADATA has no Name or Version"), subject: "alpha-1.0"),
        Sample(error: PipError.wheel("/cache/alpha-1.0-py3-none-any.whl: short read at 100 (the zip is truncated)"), subject: "alpha-1.0"),
        Sample(error: PipError.resolution("alpha 2.0 needs beta>=2, and gamma needs beta<2"), subject: "alpha"),
        Sample(error: PipError.install("/srv/site already exists; requirements are installed into a new directory"), subject: "/srv/site"),
        Sample(error: PipError.build("fusepy-3.0.1.tar.gz: build_wheel failed: RuntimeError: no compiler"), subject: "fusepy-3.0.1"),
        Sample(error: CandidateUnusable(reason: "requires Python >=3.12 (the environment has 3.11)"), subject: "Python >=3.12"),
        // Run
        Sample(error: RunError.runcNotFound, subject: "runc"),
        Sample(error: RunError.hostileLayer(layer: "sha256:0123", member: "../etc/passwd", reason: "leaves the root"), subject: "sha256:0123"),
        Sample(error: RunError.unpack(layer: "sha256:0123", detail: "No space left on device"), subject: "sha256:0123"),
        Sample(error: RunError.notRunnable("no entrypoint or cmd"), subject: "entrypoint"),
        Sample(error: RunError.noRoute, subject: "org.kiln.route.readiness"),
        Sample(error: RunError.runtime("cannot create the bundle directory /tmp/kiln-run: Permission denied"), subject: "/tmp/kiln-run"),
        Sample(error: RunError.notAnswered(url: "http://127.0.0.1:5001/", seconds: 3, lastAttempt: "connection refused", log: "(no output)"),
               subject: "http://127.0.0.1:5001/"),
        Sample(error: RunError.exited(status: 3, url: "http://127.0.0.1:5001/", log: "ImportError"), subject: "http://127.0.0.1:5001/"),
        Sample(error: RunError.request(url: "http://127.0.0.1:5001/score", detail: "the server answered 500"), subject: "http://127.0.0.1:5001/score"),
    ] }

    /// Every case of every error, by name. No `default`: a new case must be added here, and then sampled.
    static func caseName(_ error: any Error) -> String {
        switch error {
        case let error as OCIError:
            switch error {
            case .invalidDigest: return "invalidDigest"
            case .invalidReference: return "invalidReference"
            case .invalidPlatform: return "invalidPlatform"
            case .malformedJSON: return "malformedJSON"
            case .layout: return "layout"
            case .noMatchingManifest: return "noMatchingManifest"
            }
        case let error as ArchiveError:
            switch error {
            case .missingSource: return "missingSource"
            case .unreadable: return "unreadable"
            case .symlinkEscapes: return "symlinkEscapes"
            case .unsupportedFileType: return "unsupportedFileType"
            case .conflictingDestinations: return "conflictingDestinations"
            case .invalidDestination: return "invalidDestination"
            case .changedDuringBuild: return "changedDuringBuild"
            case .write: return "write"
            case .compression: return "compression"
            case .hostileMember: return "hostileMember"
            case .read: return "read"
            case .notUTF8: return "notUTF8"
            }
        case let error as PlanError:
            switch error {
            case .invalid: return "invalid"
            case .notSupported: return "notSupported"
            }
        case let error as ImageError:
            switch error {
            case .base: return "base"
            case .output: return "output"
            case .source: return "source"
            }
        case let error as AzureMLError:
            switch error {
            case .missingFile: return "missingFile"
            case .malformed: return "malformed"
            case .invalid: return "invalid"
            case .model: return "model"
            case .dockerfile: return "dockerfile"
            }
        case let error as RegistryError:
            switch error {
            case .http: return "http"
            case .unauthorized: return "unauthorized"
            case .insufficientScope: return "insufficientScope"
            case .digestMismatch: return "digestMismatch"
            case .protocolViolation: return "protocolViolation"
            case .network: return "network"
            case .insecureRegistry: return "insecureRegistry"
            case .notFound: return "notFound"
            case .credentials: return "credentials"
            case .tls: return "tls"
            }
        case let error as HTTPError:
            switch error {
            case .caFile: return "caFile"
            case .tooLarge: return "tooLarge"
            case .tooSlow: return "tooSlow"
            case .broken: return "broken"
            }
        case let error as CondaError:
            switch error {
            case .invalidVersion: return "invalidVersion"
            case .invalidSpec: return "invalidSpec"
            case .repodata: return "repodata"
            case .unsatisfiable: return "unsatisfiable"
            case .package: return "package"
            case .environmentFile: return "environmentFile"
            case .lockFile: return "lockFile"
            case .install: return "install"
            }
        case let error as PipError:
            switch error {
            case .invalidVersion: return "invalidVersion"
            case .invalidSpecifier: return "invalidSpecifier"
            case .invalidRequirement: return "invalidRequirement"
            case .invalidMarker: return "invalidMarker"
            case .requirementsFile: return "requirementsFile"
            case .index: return "index"
            case .metadata: return "metadata"
            case .wheel: return "wheel"
            case .resolution: return "resolution"
            case .install: return "install"
            case .build: return "build"
            }
        case is CandidateUnusable:
            return "reason"
        case let error as RunError:
            switch error {
            case .runcNotFound: return "runcNotFound"
            case .hostileLayer: return "hostileLayer"
            case .unpack: return "unpack"
            case .notRunnable: return "notRunnable"
            case .noRoute: return "noRoute"
            case .runtime: return "runtime"
            case .notAnswered: return "notAnswered"
            case .exited: return "exited"
            case .request: return "request"
            }
        default:
            return "unknown \(type(of: error))"
        }
    }

    /// The cases `caseName` knows, per type: kept beside the switch, checked against the samples.
    static let cases: [String: Int] = [
        "OCIError": 6, "ArchiveError": 12, "PlanError": 2, "ImageError": 3, "AzureMLError": 5, "RegistryError": 10,
        "HTTPError": 4, "CondaError": 8, "PipError": 11, "CandidateUnusable": 1, "RunError": 9,
    ]

    @Test func everyCaseHasASample() {
        var sampled: [String: Set<String>] = [:]
        for sample in Self.samples {
            let name = Self.caseName(sample.error)
            #expect(!name.hasPrefix("unknown"), "\(name)")
            sampled["\(type(of: sample.error))", default: []].insert(name)
        }
        #expect(sampled.mapValues(\.count) == Self.cases, "a case without a sample, or a type missing from `cases`")
    }

    @Test(arguments: samples.indices) func printsOneLineNamingItsSubject(_ index: Int) {
        let sample = Self.samples[index]
        let text = String(describing: sample.error)
        #expect(!text.trimmingCharacters(in: .whitespaces).isEmpty, "\(sample)")
        #expect(!text.contains("\n") && !text.contains("\r"), "one line: \(text)")
        #expect(text.contains(sample.subject), "\(sample) names \(sample.subject): \(text)")
        // Not a Swift dump: no Optional(…), no TypeName(…) or TypeError(…), no `.case(` enum syntax.
        #expect(!text.contains("Optional("), "\(text)")
        #expect(!text.contains("Error("), "\(text)")
        #expect(text.range(of: #"(^|[\s(])\.[a-z][A-Za-z]*\("#, options: .regularExpression) == nil, "\(text)")
        #expect(!text.contains("\(type(of: sample.error))"), "\(text)")
        // Secrets in a URL never reach the message.
        #expect(!text.contains("s3cret") && !text.contains("sig=abc") && !text.contains("tk-123"), "\(text)")
        // `kiln: error:` lines read as sentences, not as a trailing `:`.
        #expect(!text.hasSuffix(":"), "\(text)")
    }
}
