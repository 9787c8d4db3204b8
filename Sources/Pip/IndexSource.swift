import Foundation

/// Thrown by a source when a candidate turns out unusable once its metadata is read.
public struct CandidateUnusable: Error {
    public var reason: String
}

/// The resolver's view of an index for one target: versions with their best wheel, conda's
/// distributions in place of the index's, direct wheel URLs, and `--hash` restrictions.
public struct IndexSource: ResolverSource {
    public let client: IndexClient
    public let target: PythonTarget
    let ranks: [String: Int]
    let installed: [String: InstalledDistribution]
    let direct: [String: DistributionFile]
    let hashes: [String: Set<String>]
    let pinnedExactly: Set<String>
    /// Builds wheels from sdists; nil when builds are off (`--no-build`).
    let builder: SourceBuilder?
    /// Names `--only-binary` keeps from being built.
    let onlyBinary: Set<String>

    /// `direct`: wheel URLs named by requirements, by project; `hashes`: allowed sha256 per project;
    /// `pinnedExactly`: projects a requirement pins with `==`/`===` (yanked files become usable, as in pip).
    public init(client: IndexClient, target: PythonTarget, installed: [String: InstalledDistribution] = [:],
                direct: [String: DistributionFile] = [:], hashes: [String: Set<String>] = [:], pinnedExactly: Set<String> = [],
                builder: SourceBuilder? = nil, onlyBinary: Set<String> = []) {
        self.client = client
        self.builder = builder
        self.onlyBinary = onlyBinary
        self.target = target
        ranks = target.tagRanks
        self.installed = installed
        self.direct = direct
        self.hashes = hashes
        self.pinnedExactly = pinnedExactly
    }

    var pythonTag: String { "cp\(target.major)\(target.minor)" }

    public func candidates(_ key: String) async throws -> [Candidate] {
        if let dist = installed[key] { return [Candidate(version: dist.version, origin: .installed(dist))] }
        let files: [DistributionFile]
        if let file = direct[key] { files = [file] } else { files = try await client.files(key) }
        var byVersion: [PythonVersion: [DistributionFile]] = [:]
        for file in files {
            guard let version = Self.version(of: file.fileName, key: key) else { continue }
            byVersion[version, default: []].append(file)
        }
        return byVersion.keys.sorted(by: >).map { version in
            Candidate(version: version, origin: origin(key, version, byVersion[version] ?? []))
        }
    }

    static func version(of fileName: String, key: String) -> PythonVersion? {
        if let wheel = WheelName(fileName) { return wheel.version }
        guard isSourceDistribution(fileName) else { return nil }
        let stem = fileName.replacingOccurrences(of: #"\.(tar\.gz|tar\.bz2|tar\.xz|tgz|tar|zip)$"#, with: "", options: [.regularExpression, .caseInsensitive])
        guard let dash = stem.lastIndex(of: "-") else { return nil }
        return try? PythonVersion(String(stem[stem.index(after: dash)...]))
    }

    /// The best wheel of one version, or why there is none.
    func origin(_ key: String, _ version: PythonVersion, _ files: [DistributionFile]) -> Candidate.Origin {
        var usable = files
        if !pinnedExactly.contains(key) {
            usable = usable.filter { !$0.yanked }
            if usable.isEmpty { return .unavailable(reason: "is yanked") }
        }
        if let allowed = hashes[key] {
            usable = usable.filter { $0.sha256.map(allowed.contains) ?? true }
            if usable.isEmpty { return .unavailable(reason: "has no file matching the --hash values") }
        }
        let python = target.python
        let wheels = usable.filter { $0.wheel != nil }
        let fitting = wheels.compactMap { file in file.wheel?.rank(ranks).map { (file, $0) } }
        let supported = fitting.filter { $0.0.requiresPython.map { $0.contains(python, prereleases: true) } ?? true }
        if let best = supported.min(by: { ($0.1, $0.0.sourceOrder) < ($1.1, $1.0.sourceOrder) }) { return .wheel(best.0) }
        // No wheel fits: as pip and uv, build the sdist, if there is one and builds are on.
        let sdists = usable.filter { $0.wheel == nil && isSourceDistribution($0.fileName) }
        let buildable = sdists.filter { $0.requiresPython.map { $0.contains(python, prereleases: true) } ?? true }
        let builds = builder != nil && !onlyBinary.contains(key)
        if builds, let sdist = buildable.min(by: { ($0.sourceOrder, Self.archiveRank($0.fileName)) < ($1.sourceOrder, Self.archiveRank($1.fileName)) }) {
            return .sdist(sdist)
        }
        if supported.isEmpty, let spec = fitting.first?.0.requiresPython {
            return .unavailable(reason: "requires Python \(spec) (the environment has \(python))")
        }
        if builds, buildable.isEmpty, let spec = sdists.first?.requiresPython {
            return .unavailable(reason: "requires Python \(spec) (the environment has \(python))")
        }
        if wheels.isEmpty {
            let sdist = usable.first?.fileName ?? "?"
            return .unavailable(reason: "has only a source distribution (\(sdist)), and builds are off (\(offFlag(key)))")
        }
        let platform = target.platforms.first ?? "linux_\(target.machine)"
        let sdistNote = sdists.isEmpty ? "" : "; its sdist is not built, as builds are off (\(offFlag(key)))"
        return .unavailable(reason: "has no wheel for \(pythonTag) on \(platform) (it has \(wheels.map(\.fileName).prefix(3).joined(separator: ", ")))\(sdistNote)")
    }

    func offFlag(_ key: String) -> String {
        builder != nil ? "--only-binary \(key)" : onlyBinary.contains(":all:") ? "--only-binary :all:" : "--no-build"
    }

    /// `.tar.gz` first among one version's sdists (PEP 625's format), then `.zip`, then the rest.
    static func archiveRank(_ fileName: String) -> Int {
        let name = fileName.lowercased()
        return name.hasSuffix(".tar.gz") ? 0 : name.hasSuffix(".zip") ? 1 : 2
    }

    public func requirements(_ key: String, _ candidate: Candidate) async throws -> [Requirement] {
        switch candidate.origin {
        case let .installed(dist): return dist.requiresDist
        case .unavailable: return []
        case let .wheel(file):
            return try check(try await client.metadata(file))
        case let .sdist(file):
            guard let builder else { return [] }
            let metadata = try await builder.metadata(file, key: key, version: candidate.version)
            return try check(metadata)
        }
    }

    func check(_ metadata: CoreMetadata) throws -> [Requirement] {
        if let spec = metadata.requiresPython, !spec.contains(target.python, prereleases: true) {
            throw CandidateUnusable(reason: "requires Python \(spec) (the environment has \(target.python))")
        }
        return metadata.requiresDist
    }

    public func prefetch(_ key: String) async {
        if installed[key] == nil, direct[key] == nil { await client.prefetch(key) }
    }

    public func prefetchRequirements(_ key: String, _ candidate: Candidate) async {
        if case let .wheel(file) = candidate.origin { await client.prefetchMetadata(file) }
    }
}
