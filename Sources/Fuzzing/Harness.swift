import Archive
import AsyncHTTPClient
import AzureML
import Conda
import Foundation
import OCI
import Pip
import Plan
import Registry

/// The per-target drivers. Each reaches its parser through the public entry point Kiln itself calls,
/// with that entry point's own limits; file-based entry points get the bytes through a scratch file.
enum Harness {
    static func tar(_ data: Data) {
        guard let path = Scratch.write(data, name: "layer.tar") else { return }
        // Image layers: names read leniently, members hashed as GlibcProbe and the unpacker read them.
        drain(try TarReader(path: path))
        // Conda packages: strict UTF-8 names, and a .conda's outer ZIP container accepted.
        drain(try TarReader(path: path, zip: true, strictNames: true))
    }

    /// Reads every member header and its data, as production readers do, swallowing errors.
    private static func drain(_ open: @autoclosure () throws -> TarReader) {
        guard let reader = try? open() else { return }
        while let member = try? reader.next() {
            if member.kind == .file { _ = try? reader.digestData() }
        }
    }

    static func zip(_ data: Data) {
        guard let path = Scratch.write(data, name: "x.whl") else { return }
        _ = try? blocking {
            let source = try FileByteSource(path: path)
            let directory = try await ZipDirectory(source, label: "fuzz.whl")
            // Every member's contents, as the installer reads them (METADATA first for resolution).
            for entry in directory.entries.prefix(64) where !entry.isDirectory {
                _ = try? await directory.contents(entry)
            }
        }
    }

    static func repodata(_ data: Data) {
        guard let root = Scratch.directory(named: "channel/linux-64"),
              Scratch.write(data, name: "channel/linux-64/repodata.json") != nil else { return }
        let names = Self.recordNames(data)
        _ = try? blocking {
            let fetcher = Fetcher(cacheDirectory: URL(fileURLWithPath: root + "/../../cache"), http: HTTPClient.shared)
            let index = try await ChannelIndex(channels: ["file://" + Scratch.root + "/channel"], platform: "linux-64", fetcher: fetcher)
            // Records are decoded per name on demand, as the solver asks for them.
            for name in names { _ = try? index.records(named: name) }
        }
    }

    /// The `"name": "..."` values of a repodata body (at most 16), so record decoding is reached too.
    static func recordNames(_ data: Data) -> [String] {
        let text = String(decoding: data, as: UTF8.self)
        var names: [String] = []
        var rest = text[...]
        while names.count < 16, let key = rest.range(of: "\"name\"") {
            rest = rest[key.upperBound...]
            guard let open = rest.firstIndex(of: "\""), let close = rest[rest.index(after: open)...].firstIndex(of: "\"") else { break }
            names.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[close...]
        }
        return names
    }

    static func condaSpec(_ data: Data) {
        let text = String(decoding: data, as: UTF8.self)
        // Line 1: a MatchSpec; line 2 (if any): a version it is matched against.
        let lines = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let specText = lines.first ?? ""
        let versionText = lines.count > 1 ? lines[1] : specText
        let spec = try? MatchSpec(parsing: specText)
        let versionSpec = try? VersionSpec(parsing: specText)
        _ = spec?.description
        _ = versionSpec?.description
        guard let version = try? CondaVersion(versionText) else { return }
        _ = version.description
        _ = versionSpec?.matches(version)
        _ = spec?.version?.matches(version)
        if let other = try? CondaVersion(specText) {
            _ = version < other
            _ = version == other
            _ = version.starts(with: other)
            var hasher = Hasher()
            version.hash(into: &hasher)
        }
        if let spec, let record = try? PackageRecord(virtual: spec.name.isEmpty ? "x" : spec.name, version: versionText) {
            _ = spec.matches(record)
        }
    }

    static func pep508(_ data: Data) {
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let first = lines.first ?? ""
        let second = lines.count > 1 ? lines[1] : first
        let environment = Self.environment
        if let requirement = try? Requirement(parsing: first) {
            _ = requirement.description
            _ = requirement.key
            if let environment { _ = requirement.marker?.evaluate(environment, extras: ["socks", "test"]) }
            if let version = try? PythonVersion(second) { _ = requirement.specifiers.contains(version) }
        }
        if let marker = try? Marker(parsing: first) {
            _ = marker.description
            if let environment { _ = marker.evaluate(environment, extras: ["socks"]) }
        }
        if let specifiers = try? VersionSpecifiers(parsing: first) {
            _ = specifiers.description
            if let version = try? PythonVersion(second) {
                _ = specifiers.contains(version)
                _ = specifiers.contains(version, prereleases: true)
            }
        }
        if let version = try? PythonVersion(first) {
            _ = version.description
            if let other = try? PythonVersion(second) {
                _ = version < other
                _ = version == other
                var hasher = Hasher()
                version.hash(into: &hasher)
            }
        }
        _ = WheelName(first)
    }

    /// The marker environment of a CPython 3.11 on x86_64 Linux.
    static let environment: MarkerEnvironment? = (try? PythonVersion("3.11.4")).map { MarkerEnvironment(python: $0, machine: "x86_64") }

    static func pyproject(_ data: Data) {
        _ = try? BuildSystem.parse(String(decoding: data, as: UTF8.self), what: "fuzz.tar.gz")
        _ = SourceBuilder.isStatic(data)
        _ = try? CoreMetadata(data, source: "PKG-INFO")
    }

    static func sdist(_ data: Data) {
        // The same bytes as a tarball (any compression libarchive reads) and as a zip.
        for name in ["fuzz-1.0.tar.gz", "fuzz-1.0.zip"] {
            guard let path = Scratch.write(data, name: name), let directory = Scratch.directory(named: "sdist") else { continue }
            _ = try? SourceArchive.extract(path, fileName: name, into: directory + "/tree")
            try? FileManager.default.removeItem(atPath: directory + "/tree")
        }
    }

    static func requirements(_ data: Data) {
        guard let text = String(data: data, encoding: .utf8), let directory = Scratch.directory(named: "requirements") else { return }
        // No process environment: ${VAR} expansion sees only this, so runs are reproducible.
        _ = try? RequirementsFile(text: text, name: "fuzz-requirements.txt", directory: directory, environment: ["HOME": "/nonexistent"])
    }

    static func challenge(_ data: Data) {
        for challenge in Challenge.parse(String(decoding: data, as: UTF8.self)) {
            _ = (challenge.realm, challenge.service, challenge.scope, challenge.error)
        }
    }

    static func reference(_ data: Data) {
        let text = String(decoding: data, as: UTF8.self)
        if let reference = try? Reference(parsing: text) {
            _ = reference.description
            _ = try? Reference(parsing: reference.description)
        }
        if let location = try? ImageLocation(parsing: text) {
            _ = try? ImageLocation(parsing: location.description)
        }
    }

    static func ociJSON(_ data: Data) {
        if let manifest = try? Manifest.decode(data, what: "fuzz manifest") {
            _ = try? CanonicalJSON.encode(manifest)
        }
        if let index = try? Index.decode(data, what: "fuzz index") {
            _ = try? CanonicalJSON.encode(index)
        }
        for layers in [0, 1, 3] {
            if let config = try? ImageConfiguration.decode(data, layerCount: layers, what: "fuzz config") {
                _ = try? CanonicalJSON.encode(config)
            }
        }
    }

    static func inferenceConfig(_ data: Data) {
        guard let path = Scratch.write(data, name: "inferenceconfig.json") else { return }
        _ = try? InferenceConfig.load(path)
    }

    static func yaml(_ data: Data) {
        if let text = String(data: data, encoding: .utf8) { _ = try? EnvironmentFile.parse(text, what: "environment.yml") }
        guard let path = Scratch.write(data, name: "deployment.yml") else { return }
        _ = try? EnvironmentAsset.load(path)
        _ = try? DeploymentPlanner.deployment(path, to: BuildPlan(), options: FrontEndOptions())
        _ = try? DeploymentPlanner.environment(path, to: BuildPlan(), options: FrontEndOptions())
    }

    static func simpleIndex(_ data: Data) {
        guard let path = Scratch.write(data, name: "find-links.html") else { return }
        let cache = URL(fileURLWithPath: Scratch.root + "/pip-cache")
        _ = try? blocking {
            let client = IndexClient(sources: IndexSources(findLinks: [path], noIndex: true), cacheDirectory: cache,
                                     http: HTTPClient.shared, netrcPath: nil)
            for file in try await client.files("numpy") { _ = file.wheel }
        }
    }

    static func dockerfile(_ data: Data) {
        _ = try? Dockerfile.parse(String(decoding: data, as: UTF8.self), path: "Dockerfile")
    }
}
