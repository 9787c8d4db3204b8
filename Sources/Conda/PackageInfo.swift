import Foundation

/// The `info/` files an install needs: `paths.json` (or the legacy `files` + `has_prefix`), and
/// `link.json` for noarch python entry points.
public struct PackageInfo: Sendable {
    public struct PathEntry: Sendable, Hashable {
        public enum Kind: String, Sendable { case hardlink, softlink, directory }
        public var path: String
        public var kind: Kind
        public var placeholder: String?
        public var binary: Bool
        public var noLink: Bool
        public var sha256: String?
        public var size: Int64?
    }

    public var paths: [PathEntry]
    public var entryPoints: [String]
    public var noarch: String?

    public static func read(_ directory: URL, what: String) throws -> PackageInfo {
        let info = directory.appendingPathComponent("info")
        var noarch: String?
        if let data = FileManager.default.contents(atPath: info.appendingPathComponent("index.json").path),
           let index = try? JSONDecoder().decode([String: JSONValue].self, from: data) {
            noarch = PackageRecord.noarch(index["noarch"])
        }
        var entryPoints: [String] = []
        if let data = FileManager.default.contents(atPath: info.appendingPathComponent("link.json").path) {
            struct Link: Decodable { struct Noarch: Decodable { var type: String?; var entry_points: [String]? }; var noarch: Noarch? }
            guard let link = try? JSONDecoder().decode(Link.self, from: data) else { throw CondaError.package("\(what): info/link.json is malformed") }
            entryPoints = link.noarch?.entry_points ?? []
        }
        if let data = FileManager.default.contents(atPath: info.appendingPathComponent("paths.json").path) {
            struct Paths: Decodable {
                struct Item: Decodable {
                    var _path: String
                    var path_type: String?
                    var prefix_placeholder: String?
                    var file_mode: String?
                    var no_link: Bool?
                    var sha256: String?
                    var size_in_bytes: Int64?
                }
                var paths: [Item]
            }
            guard let paths = try? JSONDecoder().decode(Paths.self, from: data) else { throw CondaError.package("\(what): info/paths.json is malformed") }
            let entries = try paths.paths.map { item -> PathEntry in
                _ = try PackageArchive.safeRelativePath(item._path, what: what)
                guard let kind = PathEntry.Kind(rawValue: item.path_type ?? "hardlink") else {
                    throw CondaError.package("\(what): unknown path_type '\(item.path_type ?? "")' for \(item._path)")
                }
                return PathEntry(path: item._path, kind: kind, placeholder: item.prefix_placeholder, binary: item.file_mode == "binary",
                                 noLink: item.no_link ?? false, sha256: item.sha256, size: item.size_in_bytes)
            }
            return PackageInfo(paths: entries, entryPoints: entryPoints, noarch: noarch)
        }
        return PackageInfo(paths: try legacyPaths(directory, what: what), entryPoints: entryPoints, noarch: noarch)
    }

    /// The `size_in_bytes` that `info/paths.json` gives each file (by normalized relative path), or nil
    /// when the package has no paths.json. Extraction bounds each member by it.
    static func declaredSizes(_ directory: URL, what: String, limit: Int64) throws -> [String: Int64]? {
        let path = directory.appendingPathComponent("info/paths.json").path
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        if let size = (attributes[.size] as? NSNumber)?.int64Value, size > limit {
            throw CondaError.package("\(what): info/paths.json is \(size) bytes, more than the \(limit) Kiln reads")
        }
        struct Paths: Decodable {
            struct Item: Decodable { var _path: String; var path_type: String?; var size_in_bytes: Int64? }
            var paths: [Item]
        }
        guard let data = FileManager.default.contents(atPath: path), let paths = try? JSONDecoder().decode(Paths.self, from: data) else {
            throw CondaError.package("\(what): info/paths.json is malformed")
        }
        var sizes: [String: Int64] = [:]
        for item in paths.paths where (item.path_type ?? "hardlink") == "hardlink" {
            guard let size = item.size_in_bytes, size >= 0 else { continue }
            sizes[try PackageArchive.safeRelativePath(item._path, what: what)] = size
        }
        return sizes
    }

    /// `info/files` with `info/has_prefix` (`<placeholder> <text|binary> <path>` or just `<path>`).
    static func legacyPaths(_ directory: URL, what: String) throws -> [PathEntry] {
        let info = directory.appendingPathComponent("info")
        guard let files = try? String(contentsOf: info.appendingPathComponent("files"), encoding: .utf8) else {
            throw CondaError.package("\(what) has neither info/paths.json nor info/files")
        }
        var prefixes: [String: (String, Bool)] = [:]
        if let text = try? String(contentsOf: info.appendingPathComponent("has_prefix"), encoding: .utf8) {
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
                if fields.count == 3 { prefixes[fields[2]] = (fields[0], fields[1] == "binary") }
                else if fields.count == 1 { prefixes[fields[0]] = ("/opt/anaconda1anaconda2anaconda3", false) }
            }
        }
        let packed = try PackageFiles.open(directory, what: what)
        return try files.split(separator: "\n").map(String.init).filter { !$0.isEmpty }.map { path in
            _ = try PackageArchive.safeRelativePath(path, what: what)
            let kind: PathEntry.Kind = packed.member(path)?.kind == .symlink ? .softlink : packed.isDirectory(path) ? .directory : .hardlink
            let prefix = prefixes[path]
            return PathEntry(path: path, kind: kind, placeholder: prefix?.0, binary: prefix?.1 ?? false, noLink: false, sha256: nil, size: nil)
        }
    }
}
