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

    /// Header lines up to the first blank line: lowercased key, value, continuation lines folded in. Read as
    /// bytes: a warm resolve parses 55 of these, and Foundation's line and whitespace handling was most of it.
    static func headers(_ text: String) -> [(String, String)] {
        var result: [(String, String)] = []
        var text = text
        text.withUTF8 { bytes in
            headerLines(bytes) { line in
                if line[0] == UInt8(ascii: " ") || line[0] == UInt8(ascii: "\t") {
                    if !result.isEmpty { result[result.count - 1].1 += " " + trimmed(line) }
                    return true
                }
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return true }
                let key = String(decoding: UnsafeBufferPointer(rebasing: line[..<colon]), as: UTF8.self).lowercased()
                result.append((key, trimmed(UnsafeBufferPointer(rebasing: line[(colon + 1)...]))))
                return true
            }
        }
        return result
    }

    /// Each line of `bytes` (LF or CRLF, the CR dropped) up to the first empty one, while `body` returns true.
    static func headerLines(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) {
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
            var lineEnd = end
            if lineEnd > start && bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
            let line = UnsafeBufferPointer(rebasing: bytes[start..<lineEnd])
            start = end + 1
            if line.isEmpty || !body(line) { return }
        }
    }

    /// `bytes` as text without the spaces and tabs around it (other Unicode spaces at either end, which are
    /// rare, are trimmed by Foundation as before).
    static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var low = 0
        var high = bytes.count
        while low < high && (bytes[low] == UInt8(ascii: " ") || bytes[low] == UInt8(ascii: "\t")) { low += 1 }
        while high > low && (bytes[high - 1] == UInt8(ascii: " ") || bytes[high - 1] == UInt8(ascii: "\t")) { high -= 1 }
        let value = String(decoding: UnsafeBufferPointer(rebasing: bytes[low..<high]), as: UTF8.self)
        if let first = value.unicodeScalars.first, let last = value.unicodeScalars.last, !first.isASCII || !last.isASCII {
            return value.trimmingCharacters(in: .whitespaces)
        }
        return value
    }

    /// `License-Expression`, else the first `License`, from METADATA's headers: the first line of each (a
    /// folded `License` text is not joined).
    public static func declaredLicence(_ data: Data) -> String? {
        var expression: String?
        var licence: String?
        data.withUnsafeBytes { raw in
            headerLines(raw.bindMemory(to: UInt8.self)) { line in
                if line.starts(with: "License-Expression:".utf8) {
                    expression = trimmed(UnsafeBufferPointer(rebasing: line[19...]))
                    return false
                }
                if licence == nil, line.starts(with: "License:".utf8) { licence = trimmed(UnsafeBufferPointer(rebasing: line[8...])) }
                return true
            }
        }
        return expression ?? licence
    }

    /// The `Key: value` headers of a `WHEEL` file.
    static func wheelInfo(_ data: Data) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in headers(String(decoding: data, as: UTF8.self)) where result[key] == nil { result[key] = value }
        return result
    }
}
