import Foundation

/// The records of several channels for one target platform (its subdir plus `noarch`), with strict
/// channel priority: a name's records come only from the first channel, in the given order, that has
/// any record of that name. Records are built only for names the solver asks about.
public final class ChannelIndex: RecordSource, @unchecked Sendable {
    struct Entry {
        var channel: Int
        var subdir: String
        var fileName: String
        var raw: [String: JSONValue]
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
        var packages: [String: [String: JSONValue]]?
        var packagesConda: [String: [String: JSONValue]]?
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
        for (fileName, raw) in bz2.merging(conda, uniquingKeysWith: { $1 }) where !removed.contains(fileName) {
            guard let name = raw["name"]?.string?.lowercased() else { continue }
            byName[name, default: []].append(Entry(channel: channel, subdir: subdir, fileName: fileName, raw: raw, baseURL: repodata.info?.base_url))
        }
    }

    public func records(named name: String) throws -> [PackageRecord] {
        lock.lock()
        defer { lock.unlock() }
        if let done = built[name] { return done }
        let entries = byName[name] ?? []
        let first = entries.map(\.channel).min()
        let records = try entries.filter { $0.channel == first }.sorted { $0.fileName < $1.fileName }.map {
            try PackageRecord(fileName: $0.fileName, raw: $0.raw, channel: channels[$0.channel], subdir: $0.subdir, baseURL: $0.baseURL)
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
