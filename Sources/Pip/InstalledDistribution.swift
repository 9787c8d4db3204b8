import Foundation

/// A distribution already in site-packages (for Kiln: put there by conda), found by its `.dist-info`
/// or `.egg-info`, as pip finds it.
public struct InstalledDistribution: Sendable {
    public var name: String
    public var version: PythonVersion
    public var requiresDist: [Requirement]
    /// Contents of `INSTALLER` (conda packages say `conda`), if any.
    public var installer: String?
    /// Relative to site-packages.
    public var metadataPath: String

    public var key: String { normalizeName(name) }

    /// Every distribution in `sitePackages`, by normalized name. A directory that does not exist is empty.
    public static func scan(sitePackages: String) -> [String: InstalledDistribution] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: sitePackages) else { return [:] }
        var result: [String: InstalledDistribution] = [:]
        for entry in names.sorted() {
            let path = sitePackages + "/" + entry
            let metadataFile: String
            if entry.hasSuffix(".dist-info") {
                metadataFile = path + "/METADATA"
            } else if entry.hasSuffix(".egg-info") {
                var isDirectory: ObjCBool = false
                let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
                metadataFile = exists && isDirectory.boolValue ? path + "/PKG-INFO" : path
            } else {
                continue
            }
            // As pip does, a distribution whose metadata cannot be read is not there at all.
            guard let data = FileManager.default.contents(atPath: metadataFile), var metadata = try? CoreMetadata(data, source: entry) else { continue }
            // egg-info keeps requirements in requires.txt, not in PKG-INFO.
            if entry.hasSuffix(".egg-info"), metadata.requiresDist.isEmpty,
               let requires = try? String(contentsOfFile: path + "/requires.txt", encoding: .utf8) {
                metadata.requiresDist = eggRequirements(requires)
            }
            let installer = (try? String(contentsOfFile: path + "/INSTALLER", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            let dist = InstalledDistribution(name: metadata.name, version: metadata.version, requiresDist: metadata.requiresDist,
                                             installer: installer, metadataPath: entry)
            if result[dist.key] == nil { result[dist.key] = dist }
        }
        return result
    }

    /// `requires.txt`: plain lines, then `[extra]` or `[:marker]` sections.
    static func eggRequirements(_ text: String) -> [Requirement] {
        var section: String?
        var result: [Requirement] = []
        for raw in text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") { section = String(line.dropFirst().dropLast()); continue }
            var text = line
            if let section {
                let parts = section.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                var markers: [String] = []
                if !parts[0].isEmpty { markers.append("extra == \"\(parts[0])\"") }
                if parts.count > 1, !parts[1].isEmpty { markers.append("(\(parts[1]))") }
                if !markers.isEmpty { text += "; " + markers.joined(separator: " and ") }
            }
            if let requirement = try? Requirement(parsing: text) { result.append(requirement) }
        }
        return result
    }
}
