import Foundation

/// A project's `[build-system]` (PEP 518 and 517): what its build needs and which backend builds it.
public struct BuildSystem: Sendable, Equatable {
    public var requires: [String]
    /// `module` or `module:object`.
    public var backend: String
    /// In-tree directories the backend is imported from (PEP 517 `backend-path`), relative to the project.
    public var backendPath: [String]

    /// What pip assumes for a project without `pyproject.toml`, or without `build-backend` in it.
    public static let legacyBackend = "setuptools.build_meta:__legacy__"
    public static let legacyRequires = ["setuptools>=40.8.0"]

    public init(requires: [String], backend: String, backendPath: [String] = []) {
        self.requires = requires
        self.backend = backend
        self.backendPath = backendPath
    }

    /// From `project/pyproject.toml`, or pip's defaults when there is none. `what` names the sdist in errors.
    public static func read(project: String, what: String) throws -> BuildSystem {
        let path = project + "/pyproject.toml"
        guard let data = FileManager.default.contents(atPath: path) else {
            return BuildSystem(requires: legacyRequires, backend: legacyBackend)
        }
        guard let text = String(data: data, encoding: .utf8) else { throw PipError.build("\(what): pyproject.toml is not UTF-8") }
        return try parse(text, what: what)
    }

    /// Reads the `[build-system]` table of a TOML document. Only that table is read, with the value forms
    /// it uses in practice (strings and arrays of strings); any other value there is an error, not a guess.
    public static func parse(_ text: String, what: String) throws -> BuildSystem {
        func fail(_ why: String) -> PipError { .build("\(what): pyproject.toml [build-system]: \(why)") }
        var scanner = TOMLScanner(Array(text.unicodeScalars))
        var inTable = false, found = false
        var values: [String: TOMLValue] = [:]
        while let line = try scanner.nextStatement(fail: fail) {
            switch line {
            case let .header(name):
                inTable = name == "build-system"
                if inTable { found = true }
            case let .pair(key, value):
                if inTable { values[key] = value }
            case .skipped:
                continue
            }
        }
        guard found else { return BuildSystem(requires: legacyRequires, backend: legacyBackend) }
        func strings(_ key: String) throws -> [String]? {
            guard let value = values[key] else { return nil }
            guard case let .array(items) = value else { throw fail("\(key) is not an array of strings") }
            return items
        }
        guard let requires = try strings("requires") else { throw fail("it has no 'requires' (PEP 518 makes it mandatory)") }
        var backend = legacyBackend
        if let value = values["build-backend"] {
            guard case let .string(text) = value, !text.isEmpty else { throw fail("build-backend is not a string") }
            backend = text
        }
        let backendPath = try strings("backend-path") ?? []
        for entry in backendPath where entry.hasPrefix("/") || entry.split(separator: "/").contains("..") {
            throw fail("backend-path '\(entry)' leaves the project")
        }
        return BuildSystem(requires: requires, backend: backend, backendPath: backendPath)
    }
}

enum TOMLValue: Equatable {
    case string(String)
    case array([String])
    /// Anything else (numbers, booleans, tables, dates); only an error if `[build-system]` needs it.
    case other
}

/// A line-oriented reader of the TOML that `[build-system]` tables are written in.
struct TOMLScanner {
    enum Statement { case header(String), pair(String, TOMLValue), skipped }

    let scalars: [Unicode.Scalar]
    var index = 0

    init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

    var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    mutating func skipSpaces(newlines: Bool) {
        while let c = current {
            if c == " " || c == "\t" || (newlines && (c == "\n" || c == "\r")) { index += 1 }
            else if c == "#" { while let d = current, d != "\n" { index += 1 } }
            else { break }
        }
    }

    mutating func skipLine() { while let c = current, c != "\n" { index += 1 } }

    mutating func nextStatement(fail: (String) -> PipError) throws -> Statement? {
        skipSpaces(newlines: true)
        guard let c = current else { return nil }
        if c == "[" {
            index += 1
            let isArrayTable = current == "["
            var name = ""
            while let d = current, d != "\n", d != "]" { name.unicodeScalars.append(d); index += 1 }
            skipLine()
            let trimmed = name.trimmingCharacters(in: CharacterSet(charactersIn: "[ \t\"'"))
            return isArrayTable ? .header("[[\(trimmed)]]") : .header(trimmed)
        }
        var key = ""
        while let d = current, d != "=", d != "\n" { key.unicodeScalars.append(d); index += 1 }
        guard current == "=" else { return .skipped }
        index += 1
        skipSpaces(newlines: false)
        let value = try readValue(fail: fail)
        skipSpaces(newlines: false)
        if current != "\n", current != nil { skipLine() }
        return .pair(key.trimmingCharacters(in: CharacterSet(charactersIn: " \t\"'")), value)
    }

    mutating func readValue(fail: (String) -> PipError) throws -> TOMLValue {
        switch current {
        case "\"", "'": return .string(try readString(fail: fail))
        case "[":
            index += 1
            var items: [String] = []
            var other = false
            while true {
                skipSpaces(newlines: true)
                guard let c = current else { throw fail("an array is not closed") }
                if c == "]" { index += 1; break }
                if c == "," { index += 1; continue }
                if c == "\"" || c == "'" { items.append(try readString(fail: fail)) } else {
                    other = true
                    _ = try readValue(fail: fail)
                }
            }
            return other ? .other : .array(items)
        case "{":
            var depth = 0
            while let c = current {
                index += 1
                if c == "{" { depth += 1 } else if c == "}" { depth -= 1; if depth == 0 { break } }
                else if c == "\"" || c == "'" { index -= 1; _ = try readString(fail: fail) }
            }
            return .other
        default:
            while let c = current, c != "\n", c != ",", c != "]", c != "#" { index += 1 }
            return .other
        }
    }

    /// Basic ("…", with escapes) and literal ('…') strings, single- or multi-line.
    mutating func readString(fail: (String) -> PipError) throws -> String {
        guard let quote = current else { throw fail("a string is not closed") }
        let multi = index + 2 < scalars.count && scalars[index + 1] == quote && scalars[index + 2] == quote
        index += multi ? 3 : 1
        if multi, current == "\n" { index += 1 }
        var result = ""
        while let c = current {
            if c == quote {
                if !multi { index += 1; return result }
                if index + 2 < scalars.count, scalars[index + 1] == quote, scalars[index + 2] == quote { index += 3; return result }
            }
            if c == "\n", !multi { throw fail("a string runs past the end of its line") }
            if c == "\\", quote == "\"" {
                index += 1
                guard let e = current else { break }
                index += 1
                switch e {
                case "n": result += "\n"
                case "t": result += "\t"
                case "\\": result += "\\"
                case "\"": result += "\""
                case "u", "U":
                    let count = e == "u" ? 4 : 8
                    guard index + count <= scalars.count,
                          let code = UInt32(String(String.UnicodeScalarView(scalars[index..<index + count])), radix: 16),
                          let scalar = Unicode.Scalar(code) else { throw fail("a string has a bad \\\(e) escape") }
                    result.unicodeScalars.append(scalar)
                    index += count
                default: result.unicodeScalars.append(e)
                }
                continue
            }
            result.unicodeScalars.append(c)
            index += 1
        }
        throw fail("a string is not closed")
    }
}
