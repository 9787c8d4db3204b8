import Foundation
import HTTP

/// A pip requirements file: the `pip:` lines conda hands to `pip install -r`.
///
/// Understands `-r`/`--requirement` and `-c`/`--constraint` (relative to the including file), `-i`/`--index-url`,
/// `--extra-index-url`, `-f`/`--find-links`, `--no-index`, `--pre`, per-line `--hash=sha256:…`,
/// `name @ url`, plain URLs or paths to wheels, `${VAR}` expansion (as pip does), line continuations
/// and comments. Options that need a build (`-e`, VCS URLs) are refused by name.
public struct RequirementsFile: Sendable {
    public struct Entry: Sendable {
        public var requirement: Requirement
        /// Allowed sha256 digests (hex) from `--hash`; empty means any.
        public var hashes: [String]
        /// `file:line`, for messages.
        public var origin: String
    }

    public var entries: [Entry] = []
    /// `-c` files: versions a package must have if something else requires it.
    public var constraints: [Entry] = []
    public var indexURL: String?
    public var extraIndexURLs: [String] = []
    public var findLinks: [String] = []
    public var noIndex = false
    public var pre = false
    /// `--only-binary`: normalized names never built from source, or `:all:`.
    public var onlyBinary: Set<String> = []

    public init() {}

    /// Reads `path` and everything it includes.
    public init(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        try add(path: path, environment: environment, depth: 0)
    }

    /// Parses `text` as if it were a file in `directory`.
    public init(text: String, name: String = "<pip>", directory: String,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        try add(text: text, name: name, directory: directory, environment: environment, depth: 0)
    }

    /// Adds `path` and what it includes, as `-r path` would.
    public mutating func include(_ path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        try add(path: path, environment: environment, depth: 0)
    }

    /// Adds the lines of `text`, as if they were a file named `name` in `directory`.
    public mutating func include(text: String, name: String, directory: String,
                                 environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        try add(text: text, name: name, directory: directory, environment: environment, depth: 0)
    }

    mutating func add(path: String, environment: [String: String], depth: Int) throws {
        guard depth < 20 else { throw PipError.requirementsFile("\(path): -r includes nest more than 20 deep (a cycle?)") }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw PipError.requirementsFile("cannot read requirements file \(path)")
        }
        try add(text: text, name: path, directory: (path as NSString).deletingLastPathComponent, environment: environment, depth: depth)
    }

    mutating func add(text: String, name: String, directory: String, environment: [String: String], depth: Int) throws {
        for (number, rawLine) in Self.logicalLines(text) {
            let origin = "\(name):\(number)"
            let line = Self.expand(Self.stripComment(rawLine), environment)
            guard !line.isEmpty else { continue }
            func fail(_ why: String) -> PipError { .requirementsFile("\(origin): \(why)") }
            var words = Self.split(line)
            guard let first = words.first else { continue }
            if first.hasPrefix("-") {
                let (option, inlineValue) = Self.option(first)
                func value() throws -> String {
                    if let inlineValue { return inlineValue }
                    guard words.count > 1 else { throw fail("\(option) needs a value") }
                    return words[1]
                }
                switch option {
                case "-r", "--requirement":
                    let target = try value()
                    let path = target.hasPrefix("/") ? target : directory + "/" + target
                    guard FileManager.default.isReadableFile(atPath: path) else { throw fail("cannot read requirements file \(path)") }
                    try add(path: path, environment: environment, depth: depth + 1)
                case "-i", "--index-url": indexURL = Self.trimSlash(try value())
                case "--extra-index-url": extraIndexURLs.append(Self.trimSlash(try value()))
                case "-f", "--find-links":
                    let target = try value()
                    findLinks.append(target.contains("://") || target.hasPrefix("/") ? target : directory + "/" + target)
                case "--no-index": noIndex = true
                case "--pre": pre = true
                case "--only-binary":
                    for name in try value().split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                        if name == ":none:" { onlyBinary = [] } else { onlyBinary.insert(name == ":all:" ? name : normalizeName(name)) }
                    }
                case "--no-binary":
                    throw fail("--no-binary (building a package that has a wheel from its source) is not supported; kiln builds an sdist only when no wheel fits")
                case "--prefer-binary", "--trusted-host", "--upgrade", "-U", "--no-cache-dir":
                    // Kiln prefers wheels, verifies hosts and fetches fresh anyway: these change nothing.
                    continue
                case "-e", "--editable":
                    throw fail("editable installs (-e) link a working tree, which an image cannot; list a wheel, an sdist or a project name instead")
                case "-c", "--constraint":
                    let target = try value()
                    let path = target.hasPrefix("/") ? target : directory + "/" + target
                    guard FileManager.default.isReadableFile(atPath: path) else { throw fail("cannot read constraints file \(path)") }
                    var included = RequirementsFile()
                    try included.add(path: path, environment: environment, depth: depth + 1)
                    // pip's rule: a constraint is a name, specifiers and a marker, nothing that would install.
                    if let bad = included.entries.first(where: { $0.requirement.url != nil || !$0.requirement.extras.isEmpty }) {
                        throw PipError.requirementsFile("\(bad.origin): a constraint cannot name extras or a URL (\(Redaction.url(bad.requirement.text)))")
                    }
                    constraints += included.entries + included.constraints
                default:
                    throw fail("the option \(option) is not supported in a requirements file")
                }
                continue
            }
            // Per-requirement options follow the requirement.
            var hashes: [String] = []
            while let last = words.last, last.hasPrefix("--") {
                let (option, value) = Self.option(last)
                guard option == "--hash", let value else { throw fail("the option \(last) is not supported after a requirement") }
                guard value.hasPrefix("sha256:") else { throw fail("only sha256 hashes are supported (\(value))") }
                hashes.append(String(value.dropFirst(7)).lowercased())
                words.removeLast()
            }
            let text = words.joined(separator: " ")
            var requirement: Requirement
            if Self.isVCS(text) {
                throw fail("'\(Redaction.url(text))' is a VCS checkout; kiln installs wheels and builds sdists, from an index or a URL, but does not clone repositories")
            } else if Self.looksLikeWheelReference(text) {
                requirement = try Self.directWheel(text, directory: directory, origin: origin)
            } else {
                do { requirement = try Requirement(parsing: text) } catch let error as PipError { throw fail(error.description) }
                if let url = requirement.url {
                    if Self.isVCS(url) { throw fail("'\(Redaction.url(url))' is a VCS checkout; kiln installs wheels and builds sdists, from an index or a URL, but does not clone repositories") }
                    let file = String(url.split(separator: "#")[0].split(separator: "/").last ?? "")
                    guard file.lowercased().hasSuffix(".whl") || isSourceDistribution(file) else {
                        throw fail("'\(Redaction.url(url))' is neither a wheel nor a source distribution (.tar.gz, .zip)")
                    }
                }
            }
            entries.append(Entry(requirement: requirement, hashes: hashes, origin: origin))
        }
    }

    /// A bare URL or path to a wheel, with an optional `; marker`.
    static func directWheel(_ text: String, directory: String, origin: String) throws -> Requirement {
        var location = text
        var marker: Marker?
        if let range = text.range(of: " ;") ?? text.range(of: "; ") {
            location = String(text[..<range.lowerBound]).trimmingCharacters(in: .whitespaces)
            let markerText = text[range.upperBound...].drop { $0 == ";" || $0 == " " }
            do { marker = try Marker(parsing: String(markerText)) } catch let error as PipError {
                throw PipError.requirementsFile("\(origin): \(error.description)")
            }
        }
        if !location.contains("://") {
            location = "file://" + (location.hasPrefix("/") ? location : directory + "/" + location)
        }
        let fileName = String((location.split(separator: "#").first ?? "").split(separator: "/").last ?? "")
        guard let wheel = WheelName(fileName.removingPercentEncoding ?? fileName) else {
            throw PipError.requirementsFile("\(origin): '\(Redaction.url(location))' is not a wheel file name")
        }
        return Requirement(name: wheel.name, url: location, marker: marker, text: text)
    }

    static func isVCS(_ text: String) -> Bool {
        ["git+", "hg+", "svn+", "bzr+"].contains { text.hasPrefix($0) || text.contains("@ \($0)") || text.contains("@\($0)") }
    }

    static func looksLikeWheelReference(_ text: String) -> Bool {
        // `.first`, not `[0]`: a line of only ';' or '#' splits into nothing.
        let head = (text.split(separator: ";").first ?? "").trimmingCharacters(in: .whitespaces)
        guard !head.contains(" "), !head.contains("@ ") else { return false }
        let bare = head.split(separator: "#").first ?? ""
        return bare.hasSuffix(".whl") && (head.contains("/") || head.contains("://"))
    }

    static func option(_ word: String) -> (String, String?) {
        if let equals = word.firstIndex(of: "=") { return (String(word[..<equals]), String(word[word.index(after: equals)...])) }
        return (word, nil)
    }

    static func trimSlash(_ url: String) -> String { url.hasSuffix("/") ? String(url.dropLast()) : url }

    /// Joins `\`-continued lines; numbers are of the first physical line.
    static func logicalLines(_ text: String) -> [(Int, String)] {
        var result: [(Int, String)] = []
        var pending = ""
        var start = 0
        for (index, line) in text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(line)
            if line.hasSuffix("\r") { line.removeLast() }
            if pending.isEmpty { start = index + 1 }
            if line.hasSuffix("\\") {
                pending += line.dropLast()
                continue
            }
            result.append((start, pending + line))
            pending = ""
        }
        if !pending.isEmpty { result.append((start, pending)) }
        return result
    }

    /// pip's rule: `#` starts a comment at the line start or after whitespace.
    static func stripComment(_ line: String) -> String {
        var previous: Character = " "
        for index in line.indices {
            if line[index] == "#", previous == " " || previous == "\t" {
                return String(line[..<index]).trimmingCharacters(in: .whitespaces)
            }
            previous = line[index]
        }
        return line.trimmingCharacters(in: .whitespaces)
    }

    /// `${NAME}` from the environment, as pip expands it (only that form, so `$` in URLs survives).
    static func expand(_ line: String, _ environment: [String: String]) -> String {
        var output = ""
        var rest = Substring(line)
        while let open = rest.range(of: "${") {
            output += rest[..<open.lowerBound]
            let after = rest[open.upperBound...]
            guard let close = after.firstIndex(of: "}") else { output += rest[open.lowerBound...]; return output }
            let name = String(after[..<close])
            if name.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }), let value = environment[name] {
                output += value
            } else {
                output += rest[open.lowerBound...close]
            }
            rest = after[after.index(after: close)...]
        }
        return output + rest
    }

    /// Splits on whitespace, keeping `name >= 1` together up to the first option.
    static func split(_ line: String) -> [String] {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = words.first, !first.hasPrefix("-") else { return words }
        // A requirement may contain spaces (`flask >= 2 ; python_version < "3.12"`): rejoin everything
        // before the first trailing option.
        let optionStart = words.firstIndex { $0.hasPrefix("--") } ?? words.count
        return [words[..<optionStart].joined(separator: " ")] + words[optionStart...]
    }
}
