import Archive
import Foundation
import HTTP
import Progress

/// Fetches, verifies, extracts and links a solved environment into a directory.
public enum Installer {
    /// Topological order over `depends` (dependencies first), ties by name. Edges from an arch package
    /// to a noarch one are dropped first, which breaks python ↔ pip as rattler does.
    public static func order(_ records: [PackageRecord]) -> [PackageRecord] {
        let byName = Dictionary(records.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var edges: [String: Set<String>] = [:]
        for record in records {
            var needs = Set<String>()
            for dependency in record.depends {
                guard let name = dependency.split(whereSeparator: { " =<>!~[".contains($0) }).first.map({ String($0).lowercased() }),
                      let other = byName[name], other.name != record.name else { continue }
                if record.noarch == nil, other.noarch != nil { continue }
                needs.insert(name)
            }
            edges[record.name] = needs
        }
        var ordered: [PackageRecord] = []
        var done = Set<String>()
        var remaining = Set(byName.keys)
        while !remaining.isEmpty {
            let ready = remaining.filter { (edges[$0] ?? []).isSubset(of: done) }.sorted()
            // A cycle left: take the smallest name to break it.
            let next = ready.first ?? remaining.sorted()[0]
            if let record = byName[next] { ordered.append(record) }
            done.insert(next)
            remaining.remove(next)
        }
        return ordered
    }

    /// What an install should tell the user.
    public struct Report: Sendable {
        /// (path, earlier package, later package): the later package's file won.
        public var clobbers: [(String, String, String)]
        /// Packages whose post-link scripts were not run.
        public var linkScripts: [String]

        public var warnings: [String] {
            clobbers.map { "\($0.2) replaces \($0.0) from \($0.1)" }
                + linkScripts.map { "\($0) has a post-link script, which Kiln does not run" }
        }
    }

    /// Installs `records` (a solution or a lock) into `root`, writing `prefix` into files. With `deferred`,
    /// unchanged package files stay in the package cache for a layer to read (`Linker.deferred`).
    /// Nothing is left in `root` if it fails.
    @discardableResult
    public static func install(_ records: [PackageRecord], requested: [MatchSpec], prefix: String, root: URL,
                               fetcher: Fetcher, epoch: Int64, variables: [String: String] = [:],
                               deferred: DeferredMembers? = nil) async throws -> Report {
        // Each package unpacked into a pack (`PackageFiles`). Kiln before the packs kept files in "extracted", which
        // nothing reads now.
        let unpacked = fetcher.cacheDirectory.appendingPathComponent("unpacked")
        var packages: [(record: PackageRecord, directory: URL)] = []
        let progress = Progress.start("fetch and extract \(records.count) conda packages", total: records.reduce(0) { $0 + ($1.size ?? 0) })
        defer { progress.fail() }
        do {
            // Largest first, so that the biggest package is not the last still extracting on one core.
            packages = try await fetchAndExtract(records.sorted(by: { ($0.size ?? 0, $1.fileName) > ($1.size ?? 0, $0.fileName) }), fetcher: fetcher, into: unpacked,
                                                 progress: progress)
            progress.finish()
            let rank = Dictionary(order(packages.map(\.record)).enumerated().map { ($1.fileName, $0) }, uniquingKeysWith: { a, _ in a })
            packages.sort { (rank[$0.record.fileName] ?? 0) < (rank[$1.record.fileName] ?? 0) }
            var linker = Linker(prefix: prefix, root: root)
            linker.epoch = epoch
            linker.deferred = deferred
            try linker.install(packages, requested: requested, variables: variables)
            return Report(clobbers: linker.clobbers, linkScripts: linker.linkScripts)
        } catch {
            try? FileManager.default.removeItem(at: root)
            throw error
        }
    }

    /// How many packages are fetched and unpacked at once: downloads overlap, and unpacking (zstd or bzip2,
    /// then into the pack) runs on every core.
    static let parallelFetches = 6

    /// Each record's package fetched and unpacked into the cache (several at once), in `records`' order.
    static func fetchAndExtract(_ records: [PackageRecord], fetcher: Fetcher, into unpacked: URL,
                                progress: ProgressStep) async throws -> [(record: PackageRecord, directory: URL)] {
        try await Concurrently.map(records, limit: parallelFetches) { record in
            let archive = try await fetcher.package(record)
            let key = archive.url.deletingPathExtension().lastPathComponent.replacingOccurrences(of: ".tar", with: "")
            let directory = unpacked.appendingPathComponent(key)
            if !PackageFiles.isComplete(directory) {
                try extractShared(archive.url, into: directory)
            }
            let installed = try installedRecord(record, directory: directory, archive: archive)
            progress.advance(by: record.size ?? 0)
            return (installed, directory)
        }
    }

    /// Extracts into a private sibling and renames it into place, so a build sharing the cache directory
    /// never sees a package half unpacked: the directory exists complete, or not at all. When another
    /// build got there first, its copy is used and ours removed.
    static func extractShared(_ archive: URL, into directory: URL) throws {
        let parent = directory.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        let staging = parent.appendingPathComponent(".\(directory.lastPathComponent).\(UUID().uuidString).part")
        defer { try? FileManager.default.removeItem(at: staging) }
        try PackageArchive.extract(archive, into: staging)
        // A directory left incomplete (no index) is replaced.
        if FileManager.default.fileExists(atPath: directory.path), !PackageFiles.isComplete(directory) {
            let stale = parent.appendingPathComponent(".\(directory.lastPathComponent).\(UUID().uuidString).stale")
            if rename(directory.path, stale.path) == 0 { try? FileManager.default.removeItem(at: stale) }
        }
        if rename(staging.path, directory.path) != 0, errno != EEXIST, errno != ENOTEMPTY {
            throw CondaError.package("cannot move \(archive.lastPathComponent) into the cache at \(directory.path): \(String(cString: strerror(errno)))")
        }
    }

    /// The record conda-meta gets: the package's own `info/index.json` with the archive's hashes, size,
    /// file name and URL. A solved install and a locked one thus write the same bytes.
    static func installedRecord(_ record: PackageRecord, directory: URL, archive: Fetcher.FetchedPackage) throws -> PackageRecord {
        guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent("info/index.json").path),
              var raw = try? JSONDecoder().decode([String: JSONValue].self, from: data) else {
            throw CondaError.package("\(record.fileName) has no readable info/index.json")
        }
        guard raw["name"]?.string?.lowercased() == record.name, raw["version"]?.string.flatMap({ try? CondaVersion($0) }) == record.version,
              raw["build"]?.string == record.build else {
            throw CondaError.package("\(record.fileName): info/index.json names a different package")
        }
        raw["sha256"] = .string(archive.sha256)
        raw["md5"] = .string(archive.md5)
        raw["size"] = .int(archive.size)
        raw.removeValue(forKey: "indexed_timestamp")
        var installed = try PackageRecord(fileName: record.fileName, raw: raw, channel: record.channel, subdir: record.subdir)
        installed.url = record.url
        return installed
    }
}
