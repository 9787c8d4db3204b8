import Foundation

/// One package from repodata: the fields the solver and installer use, plus every field as read.
public struct PackageRecord: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var version: CondaVersion
    public var build: String
    public var buildNumber: Int
    public var depends: [String]
    public var constrains: [String]
    public var trackFeatures: [String]
    public var subdir: String
    public var noarch: String?
    public var timestamp: Int64
    public var md5: String?
    public var sha256: String?
    public var size: Int64?
    /// The archive file name (`numpy-1.26.4-py311h_0.conda`).
    public var fileName: String
    /// The channel's base URL, without the subdir (`https://conda.anaconda.org/conda-forge`).
    public var channel: String
    /// Where the archive is: `<channel>/<subdir>/<fn>`, or `<base_url>/<fn>` (CEP-15).
    public var url: String
    /// Every field as read from repodata.
    public var raw: [String: JSONValue]

    /// `parsedVersion` lets a caller reuse the parse of a version string many records share.
    public init(fileName: String, raw: [String: JSONValue], channel: String, subdir: String, baseURL: String? = nil,
                parsedVersion: CondaVersion? = nil) throws {
        guard let name = raw["name"]?.string, let versionText = raw["version"]?.string, let build = raw["build"]?.string else {
            throw CondaError.repodata("record \(fileName) lacks name, version or build")
        }
        self.name = name.lowercased()
        version = try parsedVersion ?? CondaVersion(versionText)
        self.build = build
        buildNumber = Int(raw["build_number"]?.int ?? 0)
        depends = raw["depends"]?.array?.compactMap(\.string) ?? []
        constrains = raw["constrains"]?.array?.compactMap(\.string) ?? []
        let features = raw["track_features"]?.string.map { $0.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init) }
            ?? raw["track_features"]?.array?.compactMap(\.string) ?? []
        trackFeatures = features.filter { !$0.isEmpty }
        self.subdir = raw["subdir"]?.string ?? subdir
        noarch = Self.noarch(raw["noarch"])
        // Timestamps are milliseconds; small values are seconds (rattler's TimestampMs).
        let stamp = raw["timestamp"]?.int ?? 0
        timestamp = stamp > 0 && stamp <= 253_402_300_799 ? stamp * 1000 : stamp
        md5 = raw["md5"]?.string
        sha256 = raw["sha256"]?.string
        size = raw["size"]?.int
        self.fileName = fileName
        self.channel = channel
        url = (baseURL ?? "\(channel)/\(self.subdir)") + "/" + fileName
        self.raw = raw
    }

    /// A record with only what the solver uses (no hashes, size or raw fields): a large channel has tens
    /// of thousands of candidates, and only the solution's records are completed (`RecordSource.complete`).
    init(solving record: RepodataRecord, fileName: String, channel: String, subdir: String, baseURL: String?,
         parsedVersion: CondaVersion) {
        name = record.name.lowercased()
        version = parsedVersion
        build = record.build
        buildNumber = Int(record.buildNumber ?? 0)
        depends = record.depends ?? []
        constrains = record.constrains ?? []
        trackFeatures = (record.trackFeatures ?? []).filter { !$0.isEmpty }
        self.subdir = record.subdir ?? subdir
        noarch = record.noarch
        let stamp = record.timestamp ?? 0
        timestamp = stamp > 0 && stamp <= 253_402_300_799 ? stamp * 1000 : stamp
        self.fileName = fileName
        self.channel = channel
        url = (baseURL ?? "\(channel)/\(self.subdir)") + "/" + fileName
        raw = [:]
    }

    /// A virtual package (`__glibc`, `__linux`, …): no archive.
    public init(virtual name: String, version: String, build: String = "0") throws {
        self.name = name
        self.version = try CondaVersion(version)
        self.build = build
        buildNumber = 0
        depends = []
        constrains = []
        trackFeatures = []
        subdir = "@virtual"
        timestamp = 0
        fileName = ""
        channel = "@virtual"
        url = ""
        raw = ["name": .string(name), "version": .string(version), "build": .string(build)]
    }

    /// `noarch` as index.json and repodata give it: a kind, or the legacy `true` meaning "generic".
    static func noarch(_ value: JSONValue?) -> String? {
        switch value {
        case let .string(kind)?: return kind
        case .bool(true)?: return "generic"
        default: return nil
        }
    }

    public var isVirtual: Bool { name.hasPrefix("__") }
    /// `name-version-build`, as conda-meta names the record's file.
    public var distName: String { "\(name)-\(version)-\(build)" }
    public var description: String { "\(name) \(version) \(build)" }
}
