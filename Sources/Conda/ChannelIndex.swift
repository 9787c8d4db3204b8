import Foundation

/// The records of several channels for one target platform (its subdir plus `noarch`), with strict
/// channel priority: a name's records come only from the first channel, in the given order, that has
/// any record of that name. Records are built only for names the solver asks about.
public final class ChannelIndex: RecordSource, @unchecked Sendable {
    struct Entry {
        var source: Int
        var scanned: RepodataScanner.Entry
    }

    /// One repodata.json: its bytes, where it came from, and its scan.
    struct Source {
        var channel: Int
        var subdir: String
        var bytes: Data
        var baseURL: String?
    }

    public let channels: [String]
    public let subdirs: [String]
    fileprivate var sources: [Source] = []
    fileprivate var byName: [String: [Entry]] = [:]
    fileprivate var built: [String: [PackageRecord]] = [:]
    fileprivate var parsedVersions: [String: CondaVersion] = [:]
    fileprivate let lock = NSLock()

    /// Reads `<channel>/<subdir>/repodata.json` (`.json.zst` when the channel has it) for each channel
    /// and subdir, and indexes it by name. A channel must have at least one of them.
    public init(channels: [String], platform: String, fetcher: Fetcher) async throws {
        self.channels = channels
        subdirs = [platform, "noarch"]
        for (position, channel) in channels.enumerated() {
            var found = false
            for subdir in subdirs {
                let base = "\(channel)/\(subdir)"
                var data: Data?
                if let compressed = try await fetcher.data(base + "/repodata.json.zst") {
                    data = try Zstd.decompress(compressed, what: base + "/repodata.json.zst")
                } else {
                    data = try await fetcher.data(base + "/repodata.json")
                }
                guard let data else { continue }
                found = true
                try add(data, channel: position, subdir: subdir, what: base + "/repodata.json")
            }
            if !found {
                throw CondaError.repodata("\(channel) has no repodata.json for \(subdirs.joined(separator: " or "))")
            }
        }
    }

    func add(_ data: Data, channel: Int, subdir: String, what: String) throws {
        let scan = try RepodataScanner(data, what: what)
        let source = sources.count
        sources.append(Source(channel: channel, subdir: subdir, bytes: scan.bytes, baseURL: scan.baseURL))
        for (name, entries) in scan.byName {
            for entry in entries where !scan.removed.contains(entry.fileName) {
                // The same package in both formats: keep the .conda one.
                if entry.fileName.hasSuffix(".tar.bz2"), scan.condaStems.contains(String(entry.fileName.dropLast(".tar.bz2".count))) { continue }
                byName[name, default: []].append(Entry(source: source, scanned: entry))
            }
        }
    }

    public func records(named name: String) throws -> [PackageRecord] {
        lock.lock()
        defer { lock.unlock() }
        if let done = built[name] { return done }
        let entries = byName[name] ?? []
        let first = entries.map { sources[$0.source].channel }.min()
        var records: [PackageRecord] = []
        for (sourceIndex, group) in Dictionary(grouping: entries.filter { sources[$0.source].channel == first }, by: \.source) {
            let source = sources[sourceIndex]
            let decoded: [RepodataRecord]
            do {
                decoded = try RepodataScanner.decode(group.map(\.scanned), from: source.bytes)
            } catch {
                throw CondaError.repodata("\(channels[source.channel])/\(source.subdir)/repodata.json has a malformed '\(name)' record")
            }
            for (entry, record) in zip(group, decoded) {
                // The scan filed the record by its file name; a record that names another package is a broken index.
                guard record.name.lowercased() == name else {
                    throw CondaError.repodata("\(channels[source.channel])/\(source.subdir)/repodata.json: record '\(entry.scanned.fileName)' is named '\(record.name)', not '\(name)' as its file name says")
                }
                let version = try parsedVersions[record.version] ?? CondaVersion(record.version)
                parsedVersions[record.version] = version
                records.append(PackageRecord(solving: record, fileName: entry.scanned.fileName, channel: channels[source.channel],
                                             subdir: source.subdir, baseURL: source.baseURL, parsedVersion: version))
            }
        }
        records.sort { $0.fileName < $1.fileName }
        built[name] = records
        return records
    }
}

extension ChannelIndex {
    /// `record` (from `records(named:)`, which leaves out what only installing needs) with every field
    /// read from the repodata again: hashes, size and raw fields. Its depends stay as given (the solver
    /// adds `pip` to python's).
    public func complete(_ record: PackageRecord) throws -> PackageRecord {
        lock.lock()
        defer { lock.unlock() }
        for entry in byName[record.name] ?? [] where entry.scanned.fileName == record.fileName {
            let source = sources[entry.source]
            guard channels[source.channel] == record.channel else { continue }
            let decoded: RepodataRecord
            do {
                guard let found = try RepodataScanner.decode([entry.scanned], from: source.bytes).first else { continue }
                decoded = found
            } catch {
                throw CondaError.repodata("\(channels[source.channel])/\(source.subdir)/repodata.json has a malformed '\(record.name)' record")
            }
            var full = try PackageRecord(fileName: record.fileName, raw: decoded.fields, channel: record.channel, subdir: source.subdir,
                                         baseURL: source.baseURL, parsedVersion: record.version)
            guard full.url == record.url else { continue }
            full.depends = record.depends
            return full
        }
        return record
    }

    /// The versions of a name's records, in the order `records(named:)` gives them, read without building
    /// the records (the solver ranks a dependency's versions long before it needs its records, if ever).
    public func versions(named name: String) throws -> [(version: CondaVersion, tracked: Bool)] {
        lock.lock()
        defer { lock.unlock() }
        if let done = built[name] { return done.map { ($0.version, !$0.trackFeatures.isEmpty) } }
        let entries = byName[name] ?? []
        let first = entries.map { sources[$0.source].channel }.min()
        var found: [(fileName: String, version: CondaVersion, tracked: Bool)] = []
        for (sourceIndex, group) in Dictionary(grouping: entries.filter { sources[$0.source].channel == first }, by: \.source) {
            let source = sources[sourceIndex]
            let decoded: [(version: String, tracked: Bool)]
            do {
                decoded = try RepodataScanner.versions(group.map(\.scanned), from: source.bytes)
            } catch {
                throw CondaError.repodata("\(channels[source.channel])/\(source.subdir)/repodata.json has a malformed '\(name)' record")
            }
            for (entry, item) in zip(group, decoded) {
                let version = try parsedVersions[item.version] ?? CondaVersion(item.version)
                parsedVersions[item.version] = version
                found.append((entry.scanned.fileName, version, item.tracked))
            }
        }
        found.sort { $0.fileName < $1.fileName }
        return found.map { ($0.version, $0.tracked) }
    }
}

/// A repodata record with the fields Kiln uses, as `RepodataScanner` reads them: `track_features` as a
/// list (repodata has a string or a list), `noarch` as a string (the legacy `true` is "generic"),
/// nulls as absent.
struct RepodataRecord {
    var name: String
    var version: String
    var build: String
    var buildNumber: Int64?
    var depends: [String]?
    var constrains: [String]?
    var trackFeatures: [String]?
    var subdir: String?
    var noarch: String?
    var timestamp: Int64?
    var md5: String?
    var sha256: String?
    var size: Int64?
    var pythonSitePackagesPath: String?

    /// The same fields as JSON values, for `PackageRecord`.
    var fields: [String: JSONValue] {
        var result: [String: JSONValue] = ["name": .string(name), "version": .string(version), "build": .string(build)]
        if let buildNumber { result["build_number"] = .int(buildNumber) }
        if let depends { result["depends"] = .array(depends.map(JSONValue.string)) }
        if let constrains { result["constrains"] = .array(constrains.map(JSONValue.string)) }
        if let trackFeatures { result["track_features"] = .array(trackFeatures.map(JSONValue.string)) }
        if let subdir { result["subdir"] = .string(subdir) }
        if let noarch { result["noarch"] = .string(noarch) }
        if let timestamp { result["timestamp"] = .int(timestamp) }
        if let md5 { result["md5"] = .string(md5) }
        if let sha256 { result["sha256"] = .string(sha256) }
        if let size { result["size"] = .int(size) }
        if let pythonSitePackagesPath { result["python_site_packages_path"] = .string(pythonSitePackagesPath) }
        return result
    }
}
