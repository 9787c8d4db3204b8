import AsyncHTTPClient
import Foundation
import Progress
import HTTP

/// A locked pip distribution: exactly this wheel, verified by this sha256.
public struct LockedWheel: Sendable, Hashable {
    public var name: String
    public var version: String
    /// Without credentials.
    public var url: String
    public var sha256: String

    public init(name: String, version: String, url: String, sha256: String) {
        self.name = name
        self.version = version
        self.url = url
        self.sha256 = sha256
    }

    var fileName: String { String(url.split(separator: "/").last ?? "").removingPercentEncoding ?? "" }
}

/// The `pip:` section end to end: requirements → resolution against the index and what conda installed →
/// wheels fetched and verified in parallel → installed into one scheme.
public struct PipJob: Sendable {
    public let file: RequirementsFile
    public let target: PythonTarget
    public let client: IndexClient
    /// What the environment already has (conda's python packages), by normalized name.
    public let installed: [String: InstalledDistribution]
    /// Builds wheels from sdists; nil when builds are off (`--no-build`, or `--only-binary :all:` in the file).
    public let builder: SourceBuilder?

    /// `builds`: how sdists are built, or nil for wheels only.
    public init(file: RequirementsFile, target: PythonTarget, installed: [String: InstalledDistribution], cacheDirectory: URL,
                http: HTTPClient, netrcPath: String? = IndexCredentials.defaultNetrcPath, builds: SourceBuilds? = nil,
                log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.file = file
        self.target = target
        self.installed = installed
        let sources = IndexSources(indexURL: file.indexURL, extraIndexURLs: file.extraIndexURLs, findLinks: file.findLinks, noIndex: file.noIndex)
        let client = IndexClient(sources: sources, cacheDirectory: cacheDirectory, http: http, netrcPath: netrcPath, log: log)
        self.client = client
        builder = builds.flatMap { file.onlyBinary.contains(":all:") ? nil : SourceBuilder(client: client, target: target, builds: $0) }
    }

    /// The resolution; distributions conda installed stay as they are.
    public func resolve() async throws -> Resolution {
        var direct: [String: DistributionFile] = [:]
        var hashes: [String: Set<String>] = [:]
        var pinned = Set<String>()
        let hashing = file.entries.contains { !$0.hashes.isEmpty }
        for entry in file.entries {
            let requirement = entry.requirement
            if hashing, entry.hashes.isEmpty, requirement.marker?.evaluate(target.markers) ?? true {
                throw PipError.requirementsFile("\(entry.origin): \(requirement.name) has no --hash, but other lines do; with hashes, pip needs one on every requirement")
            }
            if !entry.hashes.isEmpty { hashes[requirement.key, default: []].formUnion(entry.hashes) }
            if requirement.specifiers.clauses.contains(where: { ($0.op == "==" && !$0.wildcard) || $0.op == "===" }) { pinned.insert(requirement.key) }
            if let url = requirement.url {
                var bare = url, sha256: String?
                if let hash = url.firstIndex(of: "#") {
                    bare = String(url[..<hash])
                    let fragment = url[url.index(after: hash)...]
                    if fragment.hasPrefix("sha256=") { sha256 = String(fragment.dropFirst(7)).lowercased() }
                }
                let fileName = String(bare.split(separator: "/").last ?? "")
                direct[requirement.key] = DistributionFile(fileName: fileName.removingPercentEncoding ?? fileName, url: bare, sha256: sha256,
                                                           requiresPython: nil, hasMetadataFile: false, metadataSHA256: nil, yanked: false, sourceOrder: 0)
            }
        }
        let source = IndexSource(client: client, target: target, installed: installed, direct: direct, hashes: hashes, pinnedExactly: pinned,
                                 builder: builder, onlyBinary: file.onlyBinary)
        let requirements = file.entries.map(\.requirement), constraints = file.constraints.map(\.requirement)
        var resolution = try await Resolver(source: source, environment: target.markers, allowPrereleases: file.pre)
            .resolve(requirements, constraints: constraints)
        resolution.warnings = await downgrades(resolution, requirements: requirements, constraints: constraints, source: source)
        return resolution
    }

    /// For each requested package held below its newest allowed version: if the resolution with that newest
    /// version would succeed were every unusable distribution usable, something it needs cannot be
    /// installed, and the user hears which (an sdist while builds are off, no wheel for the platform).
    func downgrades(_ resolution: Resolution, requirements: [Requirement], constraints: [Requirement], source: IndexSource) async -> [String] {
        var warnings: [String] = []
        for requirement in requirements where requirement.marker?.evaluate(target.markers) ?? true && requirement.url == nil {
            guard let pick = resolution.picks.first(where: { $0.key == requirement.key }),
                  case .wheel = pick.candidate.origin,
                  let universe = try? await source.candidates(requirement.key),
                  let newest = universe.first(where: { requirement.specifiers.contains($0.version, prereleases: file.pre ? true : nil) }),
                  newest.version > pick.candidate.version,
                  let pin = try? Requirement(parsing: "\(requirement.key)==\(newest.version)") else { continue }
            let hypothetical = Resolver(source: source, environment: target.markers, allowPrereleases: file.pre, ignoringUnavailable: true)
            guard let better = try? await hypothetical.resolve(requirements + [pin], constraints: constraints) else { continue }
            let blockers = better.picks.compactMap { other -> (String, String)? in
                guard case let .unavailable(reason) = other.candidate.origin else { return nil }
                return (other.key, reason)
            }
            guard let first = blockers.first else { continue }
            let more = blockers.count > 1 ? " (and \(blockers.count - 1) more that cannot be installed)" : ""
            let version = better.picks.first { $0.key == first.0 }?.candidate.version.description ?? "?"
            let why = first.0 == requirement.key ? "which \(first.1)" : "which would need \(first.0) \(version), which \(first.1)"
            warnings.append("\(pick.name) settled on \(pick.candidate.version), not the newest \(newest.version), \(why)\(more)")
        }
        return warnings
    }

    /// The wheels a resolution installs (not conda's), for the lock file. A wheel built here is locked as
    /// its sdist: URL and sha256 (the build is reproducible from them; the built wheel is not published).
    public func locked(_ resolution: Resolution) async throws -> [LockedWheel] {
        var result: [LockedWheel] = []
        for pick in resolution.picks {
            guard let file = Wanted(pick: pick, requested: pick.requested, allowed: [])?.file else { continue }
            let sha256: String
            if let known = file.sha256 { sha256 = known } else { sha256 = try await client.wheel(file).sha256 }
            result.append(LockedWheel(name: pick.name, version: pick.candidate.version.description, url: Redaction.url(file.url), sha256: sha256))
        }
        return result
    }

    /// Fetches (up to `parallel` at once) and installs the resolution's wheels; nothing is installed
    /// until every wheel is downloaded and verified.
    public func install(_ resolution: Resolution, installer: WheelInstaller, parallel: Int = 6) async throws -> [InstalledWheel] {
        var hashes: [String: Set<String>] = [:]
        for entry in file.entries where !entry.hashes.isEmpty { hashes[entry.requirement.key, default: []].formUnion(entry.hashes) }
        let wanted = resolution.picks.compactMap { Wanted(pick: $0, requested: $0.requested, allowed: hashes[$0.key] ?? []) }
        return try await Self.fetchAndInstall(wanted, client: client, builder: builder, installer: installer, parallel: parallel)
    }

    /// Installs exactly the locked wheels, by URL (credentials from the index URLs or netrc), each checked
    /// against its locked sha256.
    public func install(locked: [LockedWheel], requested: Set<String>, installer: WheelInstaller, parallel: Int = 6) async throws -> [InstalledWheel] {
        let wanted = try locked.map { wheel -> Wanted in
            let file = DistributionFile(fileName: wheel.fileName, url: credentialed(wheel.url), sha256: wheel.sha256, requiresPython: nil,
                                        hasMetadataFile: false, metadataSHA256: nil, yanked: false, sourceOrder: 0)
            let isRequested = requested.contains(normalizeName(wheel.name))
            if WheelName(wheel.fileName) != nil { return Wanted(file: file, requested: isRequested, allowed: [wheel.sha256]) }
            guard isSourceDistribution(wheel.fileName), let version = try? PythonVersion(wheel.version) else {
                throw PipError.requirementsFile("the lock names \(Redaction.url(wheel.url)), which is neither a wheel nor a source distribution")
            }
            guard builder != nil else {
                throw PipError.build("the lock names the source distribution \(wheel.fileName), and builds are off (--no-build)")
            }
            return Wanted(file: file, requested: isRequested, allowed: [wheel.sha256], key: normalizeName(wheel.name), version: version)
        }
        return try await Self.fetchAndInstall(wanted, client: client, builder: builder, installer: installer, parallel: parallel)
    }

    /// A locked URL with the userinfo of the index URL on the same host, if the requirements gave one.
    func credentialed(_ url: String) -> String {
        guard let host = URLComponents(string: url)?.host else { return url }
        for index in client.sources.indexes + client.sources.findLinks {
            guard let parts = URLComponents(string: index), parts.host == host, let user = parts.percentEncodedUser,
                  var target = URLComponents(string: url) else { continue }
            target.percentEncodedUser = user
            target.percentEncodedPassword = parts.percentEncodedPassword
            return target.string ?? url
        }
        return url
    }

    /// One distribution to install: a wheel, or an sdist (`key` and `version` set) whose wheel is built.
    struct Wanted: Sendable {
        var file: DistributionFile
        var requested: Bool
        /// sha256 values the requirements or the lock allow.
        var allowed: Set<String>
        var key: String?
        var version: PythonVersion?

        init(file: DistributionFile, requested: Bool, allowed: Set<String>, key: String? = nil, version: PythonVersion? = nil) {
            self.file = file
            self.requested = requested
            self.allowed = allowed
            self.key = key
            self.version = version
        }

        /// What a resolution's pick installs: its wheel, or its sdist to build; nil for what stays as it is.
        init?(pick: Resolution.Pick, requested: Bool, allowed: Set<String>) {
            switch pick.candidate.origin {
            case let .wheel(file): self.init(file: file, requested: requested, allowed: allowed)
            case let .sdist(file): self.init(file: file, requested: requested, allowed: allowed, key: pick.key, version: pick.candidate.version)
            case .installed, .unavailable: return nil
            }
        }
    }

    /// Fetches every wheel (building sdists' wheels), verified, then installs them.
    static func fetchAndInstall(_ items: [Wanted], client: IndexClient, builder: SourceBuilder?, installer: WheelInstaller,
                                parallel: Int, title: String? = nil) async throws -> [InstalledWheel] {
        var linking = installer
        if linking.unpacked == nil { linking.unpacked = UnpackedWheels(pipCache: client.cacheDirectory) }
        let installer = linking
        let progress = Progress.start(title ?? "fetch \(items.count) wheels", total: Int64(items.count), unit: .items)
        defer { progress.fail() }
        // Each wheel's zip directory is read, and where its files go worked out, as soon as it is here, while the rest
        // download; nothing is installed until all are.
        let fetched = try await Concurrently.map(Array(items.indices), limit: parallel) { index -> Fetched in
            let item = items[index]
            var (path, fileName) = (try await client.wheel(item.file, allowed: item.allowed).path, item.file.fileName)
            if let key = item.key, let version = item.version {
                guard let builder else { throw PipError.build("\(item.file.fileName) needs a build, and builds are off (--no-build)") }
                let built = try await builder.wheel(item.file, key: key, version: version)
                (path, fileName) = (built.path, built.fileName)
            }
            let zip = try await ZipDirectory(try FileByteSource(path: path), label: fileName)
            let destinations = try await WheelInstaller.destinations(in: zip, fileName: fileName)
            progress.advance(by: 1)
            return Fetched(path: path, fileName: fileName, entries: zip.entries, destinations: destinations)
        }
        progress.finish()
        let paths = fetched.map(\.path)
        let wanted = zip(items, fetched).map { ($0.0, $0.1.fileName) }
        let destinations = fetched.map(\.destinations)
        // Wheels that share no destination are installed in parallel; the others afterwards, in order, so
        // that the later one wins as it would one at a time.
        var owners: [String: Int] = [:]
        var overlapping = Set<Int>()
        for (index, paths) in destinations.enumerated() {
            for path in paths {
                if let other = owners[path] { overlapping.formUnion([other, index]) } else { owners[path] = index }
            }
        }
        // Largest wheels first, so that the biggest one is not the last still inflating on one core.
        let sizes = paths.map { (try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int) ?? 0 }
        let independent = wanted.indices.filter { !overlapping.contains($0) }.sorted { (sizes[$0], $1) > (sizes[$1], $0) }
        client.log("installing \(independent.count) wheels in parallel, then \(overlapping.count) that share paths, in order")
        var result = [InstalledWheel?](repeating: nil, count: wanted.count)
        @Sendable func install(_ index: Int) async throws -> InstalledWheel {
            let directory = ZipDirectory(entries: fetched[index].entries, source: try FileByteSource(path: paths[index]), label: wanted[index].1)
            return try await installer.install(wheel: paths[index], directory: directory, fileName: wanted[index].1, requested: wanted[index].0.requested)
        }
        let parallelResults = try await Concurrently.map(independent, limit: parallel) { try await install($0) }
        for (index, installed) in zip(independent, parallelResults) { result[index] = installed }
        for index in overlapping.sorted() { result[index] = try await install(index) }
        return result.compactMap { $0 }
    }

    /// A wheel fetched (or built), with its zip directory and destinations read.
    struct Fetched: Sendable {
        var path: String
        var fileName: String
        var entries: [ZipEntry]
        var destinations: Set<String>
    }
}

/// The pip part of a lock file: conda-lock `manager: pip` entries, and `# pip` lines in `@EXPLICIT` files
/// (which conda skips as comments).
public enum PipLock {
    /// conda-lock v1 package entries, to append under `package:`.
    public static func condaLockEntries(_ wheels: [LockedWheel], platform: String) -> String {
        func quote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
        var lines: [String] = []
        for wheel in wheels.sorted(by: { normalizeName($0.name) < normalizeName($1.name) }) {
            lines += ["- name: \(quote(normalizeName(wheel.name)))", "  version: \(quote(wheel.version))", "  manager: pip",
                      "  platform: \(platform)", "  dependencies: {}", "  url: \(quote(Redaction.url(wheel.url)))", "  hash:",
                      "    sha256: \(quote(wheel.sha256))", "  category: main", "  optional: false"]
        }
        return lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }

    /// `# pip name==version @ url#sha256=…` lines.
    public static func explicitLines(_ wheels: [LockedWheel]) -> String {
        wheels.sorted { normalizeName($0.name) < normalizeName($1.name) }
            .map { "# pip \(normalizeName($0.name))==\($0.version) @ \(Redaction.url($0.url))#sha256=\($0.sha256)\n" }.joined()
    }

    /// The pip wheels of a lock file Kiln wrote (either form), for `platform` in conda-lock files.
    public static func read(_ text: String, platform: String, what: String) throws -> [LockedWheel] {
        var result: [LockedWheel] = []
        if text.contains("@EXPLICIT") {
            for raw in text.split(separator: "\n") where raw.hasPrefix("# pip ") {
                let body = raw.dropFirst(6)
                guard let at = body.range(of: " @ "), let hash = body.range(of: "#sha256=", options: .backwards) else {
                    throw PipError.requirementsFile("\(what): cannot read the line '\(Redaction.url(String(raw)))'")
                }
                let pin = body[..<at.lowerBound].split(separator: "=", omittingEmptySubsequences: true).map(String.init)
                guard pin.count == 2 else { throw PipError.requirementsFile("\(what): '\(body[..<at.lowerBound])' is not name==version") }
                result.append(LockedWheel(name: pin[0], version: pin[1], url: String(body[at.upperBound..<hash.lowerBound]),
                                          sha256: String(body[hash.upperBound...]).lowercased()))
            }
            return result
        }
        // conda-lock: a flat reading of the entries Kiln writes (one key per line, two-space indent).
        var entry: [String: String] = [:]
        func flush() throws {
            defer { entry = [:] }
            guard entry["manager"] == "pip", entry["platform"] == platform else { return }
            guard let name = entry["name"], let version = entry["version"], let url = entry["url"], let sha256 = entry["sha256"] else {
                throw PipError.requirementsFile("\(what): a pip entry lacks name, version, url or sha256")
            }
            result.append(LockedWheel(name: name, version: version, url: url, sha256: sha256.lowercased()))
        }
        for raw in text.split(separator: "\n") {
            let line = String(raw)
            if line.hasPrefix("- ") { try flush() }
            let trimmed = line.hasPrefix("- ") ? String(line.dropFirst(2)) : line.trimmingCharacters(in: .whitespaces)
            guard let colon = trimmed.firstIndex(of: ":") else { continue }
            var value = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("'"), value.hasSuffix("'"), value.count >= 2 {
                value = String(value.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
            }
            entry[String(trimmed[..<colon])] = value
        }
        try flush()
        return result
    }
}
