import Foundation

/// The records of several channels for one target platform (its subdir plus `noarch`), with strict
/// channel priority: a name's records come only from the first channel, in the given order, that has
/// any record of that name. Records are built only for names the solver asks about.
public final class ChannelIndex: RecordSource, @unchecked Sendable {
    struct Entry {
        var channel: Int
        var subdir: String
        var fileName: String
        var record: RepodataRecord
        var baseURL: String?
    }

    public let channels: [String]
    public let subdirs: [String]
    private var byName: [String: [Entry]] = [:]
    private var built: [String: [PackageRecord]] = [:]
    private let lock = NSLock()

    /// Reads `<channel>/<subdir>/repodata.json` (`.json.zst` when the channel has it) for each channel
    /// and subdir. A channel must have at least one of them.
    public init(channels: [String], platform: String, fetcher: Fetcher) async throws {
        self.channels = channels
        subdirs = [platform, "noarch"]
        for (position, channel) in channels.enumerated() {
            var found = false
            for subdir in subdirs {
                guard let repodata = try await Self.load("\(channel)/\(subdir)", fetcher: fetcher) else { continue }
                found = true
                add(repodata, channel: position, subdir: subdir)
            }
            if !found {
                throw CondaError.repodata("\(channel) has no repodata.json for \(subdirs.joined(separator: " or "))")
            }
        }
    }

    struct Repodata: Decodable {
        struct Info: Decodable { var subdir: String?; var base_url: String? }
        var info: Info?
        var packages: [String: RepodataRecord]?
        var packagesConda: [String: RepodataRecord]?
        var removed: [String]?
        enum CodingKeys: String, CodingKey { case info, packages, removed, packagesConda = "packages.conda" }
    }

    static func load(_ base: String, fetcher: Fetcher) async throws -> Repodata? {
        var data: Data?
        if let compressed = try await fetcher.data(base + "/repodata.json.zst") {
            data = try Zstd.decompress(compressed, what: base + "/repodata.json.zst")
        } else {
            data = try await fetcher.data(base + "/repodata.json")
        }
        guard let data else { return nil }
        do {
            return try JSONDecoder().decode(Repodata.self, from: data)
        } catch {
            throw CondaError.repodata("\(base)/repodata.json is not valid repodata (\(error.localizedDescription))")
        }
    }

    func add(_ repodata: Repodata, channel: Int, subdir: String) {
        let removed = Set(repodata.removed ?? [])
        let conda = repodata.packagesConda ?? [:]
        // The same package in both formats: keep the .conda one.
        let condaStems = Set(conda.keys.map { String($0.dropLast(".conda".count)) })
        let bz2 = (repodata.packages ?? [:]).filter { !condaStems.contains(String($0.key.dropLast(".tar.bz2".count))) }
        for (fileName, record) in bz2.merging(conda, uniquingKeysWith: { $1 }) where !removed.contains(fileName) {
            byName[record.name.lowercased(), default: []].append(Entry(channel: channel, subdir: subdir, fileName: fileName, record: record,
                                                                       baseURL: repodata.info?.base_url))
        }
    }

    public func records(named name: String) throws -> [PackageRecord] {
        lock.lock()
        defer { lock.unlock() }
        if let done = built[name] { return done }
        let entries = byName[name] ?? []
        let first = entries.map(\.channel).min()
        let records = try entries.filter { $0.channel == first }.sorted { $0.fileName < $1.fileName }.map {
            try PackageRecord(fileName: $0.fileName, raw: $0.record.fields, channel: channels[$0.channel], subdir: $0.subdir, baseURL: $0.baseURL)
        }
        built[name] = records
        return records
    }

    /// How many records the channels hold, for reports.
    public var recordCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return byName.values.reduce(0) { $0 + $1.count }
    }
}

/// A repodata record with the fields Kiln uses, decoded without building a generic JSON tree.
/// `track_features` may be a string or a list; `noarch` a string or the legacy `true`; nulls are absent.
struct RepodataRecord: Decodable {
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

    enum CodingKeys: String, CodingKey {
        case name, version, build, depends, constrains, subdir, noarch, timestamp, md5, sha256, size
        case buildNumber = "build_number", trackFeatures = "track_features", pythonSitePackagesPath = "python_site_packages_path"
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        version = try container.decode(String.self, forKey: .version)
        build = try container.decode(String.self, forKey: .build)
        buildNumber = try container.decodeIfPresent(Int64.self, forKey: .buildNumber)
        depends = try container.decodeIfPresent([String].self, forKey: .depends)
        constrains = try container.decodeIfPresent([String].self, forKey: .constrains)
        if let text = try? container.decodeIfPresent(String.self, forKey: .trackFeatures) {
            trackFeatures = text.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        } else {
            trackFeatures = try? container.decodeIfPresent([String].self, forKey: .trackFeatures)
        }
        subdir = try container.decodeIfPresent(String.self, forKey: .subdir)
        if let kind = try? container.decodeIfPresent(String.self, forKey: .noarch) { noarch = kind }
        else if (try? container.decodeIfPresent(Bool.self, forKey: .noarch)) == true { noarch = "generic" }
        timestamp = try? container.decodeIfPresent(Int64.self, forKey: .timestamp)
        md5 = try container.decodeIfPresent(String.self, forKey: .md5)
        sha256 = try container.decodeIfPresent(String.self, forKey: .sha256)
        size = try? container.decodeIfPresent(Int64.self, forKey: .size)
        pythonSitePackagesPath = try container.decodeIfPresent(String.self, forKey: .pythonSitePackagesPath)
    }

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
