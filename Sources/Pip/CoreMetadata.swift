import Foundation

/// The parts of a distribution's core metadata (`METADATA`, email-header format) that resolution needs.
public struct CoreMetadata: Sendable {
    public var name: String
    public var version: PythonVersion
    public var requiresDist: [Requirement]
    public var requiresPython: VersionSpecifiers?
    public var providesExtra: [String]

    /// Parses the headers; `source` names the file in errors.
    public init(_ data: Data, source: String) throws {
        // Only the header block matters; the body (often a long README) is not decoded.
        let end = data.range(of: Data("\n\n".utf8)) ?? data.range(of: Data("\r\n\r\n".utf8))
        let text = String(decoding: end.map { data[data.startIndex..<$0.upperBound] } ?? data, as: UTF8.self)
        let headers = Self.headers(text)
        func field(_ key: String) -> [String] { headers.filter { $0.0 == key }.map(\.1) }
        guard let name = field("name").first, let versionText = field("version").first else {
            throw PipError.metadata("\(source): METADATA has no Name or Version")
        }
        self.name = name
        do { version = try PythonVersion(versionText) } catch {
            throw PipError.metadata("\(source): METADATA version '\(versionText)' is not PEP 440")
        }
        requiresDist = try field("requires-dist").map { line in
            do { return try Requirement(parsing: line) } catch let error as PipError {
                throw PipError.metadata("\(source): \(error.description)")
            }
        }
        requiresPython = try field("requires-python").first.flatMap { text in
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { return nil }
            do { return try VersionSpecifiers(parsing: trimmed) } catch let error as PipError {
                throw PipError.metadata("\(source): Requires-Python: \(error.description)")
            }
        }
        providesExtra = field("provides-extra").map(normalizeName)
    }

    /// Header lines up to the first blank line: lowercased key, value, continuation lines folded in.
    static func headers(_ text: String) -> [(String, String)] {
        var result: [(String, String)] = []
        for rawLine in text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty { break }
            if line.first == " " || line.first == "\t" {
                if !result.isEmpty { result[result.count - 1].1 += " " + line.trimmingCharacters(in: .whitespaces) }
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            result.append((line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        return result
    }

    /// The `Key: value` headers of a `WHEEL` file.
    static func wheelInfo(_ data: Data) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in headers(String(decoding: data, as: UTF8.self)) where result[key] == nil { result[key] = value }
        return result
    }
}
