import Foundation
import HTTP
import Yams

/// Lock files: `@EXPLICIT` lists (`conda list --explicit`) and conda-lock.yml version 1. Reading gives
/// records to install with no solving; a record's depends and metadata come from the package itself.
public enum LockFile {
    /// Reads an `@EXPLICIT` file or a conda-lock v1 file, keeping the conda entries for `platform`.
    /// Lock files Kiln writes carry no channel tokens (`/t/<redacted>/`); they are restored from
    /// `channels`, the channel URLs the build was given.
    public static func read(_ path: String, platform: String, channels: [String] = []) throws -> [PackageRecord] {
        guard let data = FileManager.default.contents(atPath: path) else { throw CondaError.lockFile("\(path) does not exist or cannot be read") }
        let text = String(decoding: data, as: UTF8.self)
        let records = text.split(separator: "\n").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "@EXPLICIT" })
            ? try readExplicit(text, what: path) : try readCondaLock(text, platform: platform, what: path)
        return try records.map { record in
            guard record.url.contains("/t/<redacted>/") else { return record }
            guard let channel = channels.first(where: { record.url.hasPrefix(Redaction.text($0) + "/") }) else {
                throw CondaError.lockFile("\(path) names a private channel (\(record.channel)); give its URL with the token as a channel")
            }
            var restored = record
            restored.url = channel + record.url.dropFirst(Redaction.text(channel).count)
            restored.channel = channel
            return restored
        }
    }

    static func readExplicit(_ text: String, what: String) throws -> [PackageRecord] {
        var records: [PackageRecord] = []
        var started = false
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line == "@EXPLICIT" { started = true; continue }
            guard started, !line.isEmpty, !line.hasPrefix("#") else { continue }
            var url = line
            var md5: String?, sha256: String?
            if let hash = line.lastIndex(of: "#") {
                url = String(line[..<hash])
                var fragment = String(line[line.index(after: hash)...])
                if fragment.hasPrefix("sha256:") { fragment.removeFirst(7) }
                switch fragment.count {
                case 32: md5 = fragment.lowercased()
                case 64: sha256 = fragment.lowercased()
                default: throw CondaError.lockFile("\(what): '\(Redaction.text(line))' has a hash that is neither md5 nor sha256")
                }
            }
            records.append(try record(url: url, md5: md5, sha256: sha256, what: what))
        }
        guard started else { throw CondaError.lockFile("\(what) has no @EXPLICIT line") }
        return records
    }

    static func readCondaLock(_ text: String, platform: String, what: String) throws -> [PackageRecord] {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch { throw CondaError.lockFile("\(what) is not valid YAML") }
        // The environment file's rule: no list or mapping as a key (Yams traps on those), aliases bounded.
        do { if let root { try EnvironmentFile.checkShape(root, what: what) } } catch let CondaError.environmentFile(message) {
            throw CondaError.lockFile(message)
        }
        let node = root?.any
        guard let top = node as? [String: Any], let version = top["version"] as? Int, let packages = top["package"] as? [[String: Any]] else {
            throw CondaError.lockFile("\(what) is neither an @EXPLICIT list nor a conda-lock file (version, package)")
        }
        guard version == 1 else { throw CondaError.lockFile("\(what) is conda-lock version \(version); kiln reads version 1") }
        return try packages.filter { ($0["manager"] as? String ?? "conda") == "conda" && ($0["platform"] as? String) == platform }.map { entry in
            guard let url = entry["url"] as? String else { throw CondaError.lockFile("\(what): a conda package has no url") }
            let hash = entry["hash"] as? [String: Any]
            return try record(url: url, md5: hash?["md5"] as? String, sha256: hash?["sha256"] as? String, what: what)
        }
    }

    /// A record known only by its URL and hashes: name, version and build come from the file name.
    static func record(url: String, md5: String?, sha256: String?, what: String) throws -> PackageRecord {
        let parts = url.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, let fileName = parts.last, fileName.hasSuffix(".conda") || fileName.hasSuffix(".tar.bz2") else {
            throw CondaError.lockFile("\(what): '\(Redaction.text(url))' is not a package URL")
        }
        let subdir = parts[parts.count - 2]
        let channel = parts.dropLast(2).joined(separator: "/")
        let stem = fileName.hasSuffix(".conda") ? String(fileName.dropLast(6)) : String(fileName.dropLast(8))
        let pieces = stem.split(separator: "-", omittingEmptySubsequences: false)
        guard pieces.count >= 3 else { throw CondaError.lockFile("\(what): cannot read name-version-build from \(fileName)") }
        var raw: [String: JSONValue] = ["name": .string(pieces.dropLast(2).joined(separator: "-")), "version": .string(String(pieces[pieces.count - 2])),
                                        "build": .string(String(pieces[pieces.count - 1])), "subdir": .string(subdir)]
        if let md5 { raw["md5"] = .string(md5) }
        if let sha256 { raw["sha256"] = .string(sha256) }
        guard md5 != nil || sha256 != nil else { throw CondaError.lockFile("\(what): \(fileName) has no md5 or sha256") }
        return try PackageRecord(fileName: fileName, raw: raw, channel: channel, subdir: subdir)
    }

    /// `@EXPLICIT` with `#sha256:` fragments (md5 when a record has no sha256), in install order.
    public static func explicit(_ records: [PackageRecord], platform: String) -> String {
        var lines = ["# This file may be used to create an environment using:", "# $ conda create --name <env> --file <this file>",
                     "# platform: \(platform)", "@EXPLICIT"]
        for record in Installer.order(records) {
            let url = Redaction.text(record.url)
            if let sha256 = record.sha256 { lines.append("\(url)#sha256:\(sha256)") }
            else if let md5 = record.md5 { lines.append("\(url)#\(md5)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// conda-lock.yml version 1 for one platform.
    public static func condaLock(_ records: [PackageRecord], platform: String, channels: [String], specs: [MatchSpec]) -> String {
        func quote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
        var lines = ["version: 1", "metadata:", "  content_hash:", "    \(platform): \(quote(EnvironmentFile(channels: channels, dependencies: specs).definitionHash))",
                     "  channels:"]
        for channel in channels { lines += ["  - url: \(quote(Redaction.text(channel)))", "    used_env_vars: []"] }
        lines += ["  platforms:", "  - \(platform)", "  sources:", "  - environment.yml", "package:"]
        for record in records.sorted(by: { $0.name < $1.name }) {
            lines += ["- name: \(quote(record.name))", "  version: \(quote(record.version.description))", "  manager: conda", "  platform: \(platform)"]
            let dependencies = record.depends.compactMap { text -> (String, String)? in
                let parts = text.split(separator: " ", maxSplits: 1).map(String.init)
                guard let name = parts.first else { return nil }
                return (name, parts.count > 1 ? parts[1] : "*")
            }
            if dependencies.isEmpty { lines.append("  dependencies: {}") } else {
                lines.append("  dependencies:")
                for (name, spec) in dependencies { lines.append("    \(quote(name)): \(quote(spec))") }
            }
            lines.append("  url: \(quote(Redaction.text(record.url)))")
            lines.append("  hash:")
            if let md5 = record.md5 { lines.append("    md5: \(quote(md5))") }
            if let sha256 = record.sha256 { lines.append("    sha256: \(quote(sha256))") }
            lines += ["  category: main", "  optional: false"]
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
