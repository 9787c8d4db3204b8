import Foundation

/// A conda MatchSpec (`conda/models/match_spec.py`): `[channel[/subdir]::]name[ version[ build]]`,
/// `name=1.2`, `name=1.2=build`, `name>=1,<2`, and `[key=value]` brackets.
public struct MatchSpec: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var version: VersionSpec?
    public var build: GlobPattern?
    public var buildNumber: Int?
    public var channel: String?
    public var subdir: String?
    public var md5: String?
    public var sha256: String?
    /// The text it was parsed from, for messages and `requested_specs`.
    public let source: String

    public init(parsing input: String) throws {
        source = input.trimmingCharacters(in: .whitespaces)
        var text = input
        if let hash = text.firstIndex(of: "#") { text = String(text[..<hash]) }
        text = text.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { throw CondaError.invalidSpec(input, "empty") }
        var brackets: [String: String] = [:]
        if text.hasSuffix("]"), let open = text.firstIndex(of: "[") {
            let inside = text[text.index(after: open)..<text.index(before: text.endIndex)]
            for item in Self.splitBracket(String(inside)) {
                guard let equals = item.firstIndex(of: "=") else { throw CondaError.invalidSpec(input, "bracket item '\(item)' is not key=value") }
                var value = String(item[item.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
                if value.count >= 2, let first = value.first, first == value.last, first == "'" || first == "\"" { value = String(value.dropFirst().dropLast()) }
                brackets[String(item[..<equals]).trimmingCharacters(in: .whitespaces)] = value
            }
            text = String(text[..<open]).trimmingCharacters(in: .whitespaces)
        }
        if let range = text.range(of: "::") {
            let prefix = String(text[..<range.lowerBound])
            text = String(text[range.upperBound...])
            if let slash = prefix.lastIndex(of: "/"), ["linux-64", "linux-aarch64", "noarch", "osx-64", "osx-arm64", "win-64"].contains(String(prefix[prefix.index(after: slash)...])) {
                channel = String(prefix[..<slash])
                subdir = String(prefix[prefix.index(after: slash)...])
            } else {
                channel = prefix
            }
        }
        let nameEnd = text.firstIndex { " =<>!~".contains($0) } ?? text.endIndex
        name = String(text[..<nameEnd]).lowercased()
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw CondaError.invalidSpec(input, "missing or invalid package name")
        }
        var rest = String(text[nameEnd...]).trimmingCharacters(in: .whitespaces)
        var versionText: String?
        var buildText: String?
        if !rest.isEmpty {
            if rest.hasPrefix("=") && !rest.hasPrefix("==") {
                // name=1.2 (starts with) or name=1.2=build (exact version and build)
                rest.removeFirst()
                let parts = rest.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 {
                    versionText = parts[0] == "*" ? "*" : "==" + parts[0]
                    buildText = parts[1]
                } else if let only = parts.first {
                    let complex = only.contains(",") || only.contains("|") || only.hasSuffix("*")
                    versionText = complex ? only : only + ".*"
                }
            } else {
                // "1.2.* *_cpython", ">=1,<2 build", "==1.2"
                let parts = rest.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                guard parts.count <= 2 else { throw CondaError.invalidSpec(input, "too many parts") }
                versionText = parts.first
                buildText = parts.count == 2 ? parts[1] : nil
            }
        }
        if let value = brackets["version"] { versionText = value }
        if let value = brackets["build"] { buildText = value }
        if let versionText {
            do { version = try VersionSpec(parsing: versionText) } catch let CondaError.invalidSpec(_, why) {
                throw CondaError.invalidSpec(input, why)
            }
        }
        if let buildText, buildText != "*" { build = GlobPattern(buildText) }
        if let value = brackets["build_number"] {
            guard let number = Int(value) else { throw CondaError.invalidSpec(input, "build_number must be a number") }
            buildNumber = number
        }
        if let value = brackets["channel"] { channel = value }
        if let value = brackets["subdir"] { subdir = value }
        md5 = brackets["md5"]
        sha256 = brackets["sha256"]
    }

    static func splitBracket(_ text: String) -> [String] {
        var items: [String] = []
        var current = ""
        var quote: Character?
        for character in text {
            if let open = quote {
                current.append(character)
                if character == open { quote = nil }
            } else if character == "'" || character == "\"" {
                quote = character
                current.append(character)
            } else if character == "," {
                items.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        if !current.trimmingCharacters(in: .whitespaces).isEmpty { items.append(current) }
        return items
    }

    public func matches(_ record: PackageRecord) -> Bool {
        guard record.name == name else { return false }
        if let version, !version.matches(record.version) { return false }
        if let build, !build.matches(record.build) { return false }
        if let buildNumber, record.buildNumber != buildNumber { return false }
        if let subdir, record.subdir != subdir { return false }
        if let channel, record.channel != channel, !record.channel.hasSuffix("/" + channel) { return false }
        if let md5, record.md5 != md5 { return false }
        if let sha256, record.sha256 != sha256 { return false }
        return true
    }

    public var description: String {
        var text = (channel.map { $0 + (subdir.map { "/" + $0 } ?? "") + "::" } ?? "") + name
        if let version { text += " \(version)" }
        if let build { text += (version == nil ? " * " : " ") + build.description }
        return text
    }
}
