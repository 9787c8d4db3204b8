import Foundation

/// Indexes a repodata.json by package name without decoding its records: one pass over the bytes
/// finds each record's file name, byte range and `name`. Records are decoded later, and only for the
/// names a solve reaches, so a channel of hundreds of thousands of records costs one scan.
struct RepodataScanner {
    struct Entry {
        var fileName: String
        var range: Range<Int>
    }

    var byName: [String: [Entry]] = [:]
    var condaStems = Set<String>()
    var subdir: String?
    var baseURL: String?
    var removed = Set<String>()

    private let bytes: [UInt8]
    private var index = 0
    private let what: String

    init(_ data: Data, what: String) throws {
        bytes = [UInt8](data)
        self.what = what
        try scan()
    }

    /// The records of `entries`, decoded together as one JSON array.
    static func decode(_ entries: [Entry], from data: Data) throws -> [RepodataRecord] {
        var array = Data("[".utf8)
        for (position, entry) in entries.enumerated() {
            if position > 0 { array.append(UInt8(ascii: ",")) }
            array.append(data[data.startIndex + entry.range.lowerBound..<data.startIndex + entry.range.upperBound])
        }
        array.append(UInt8(ascii: "]"))
        return try JSONDecoder().decode([RepodataRecord].self, from: array)
    }

    func failure(_ detail: String) -> CondaError { .repodata("\(what) is not valid repodata (\(detail) at byte \(index))") }

    mutating func scan() throws {
        try expect(UInt8(ascii: "{"))
        try members { scanner, key in
            switch key {
            case "packages", "packages.conda":
                let conda = key == "packages.conda"
                try scanner.expect(UInt8(ascii: "{"))
                try scanner.members { scanner, fileName in
                    let start = scanner.index
                    let name = try scanner.recordName()
                    if let name { scanner.byName[name.lowercased(), default: []].append(Entry(fileName: fileName, range: start..<scanner.index)) }
                    if conda { scanner.condaStems.insert(String(fileName.dropLast(".conda".count))) }
                }
            case "info":
                try scanner.expect(UInt8(ascii: "{"))
                try scanner.members { scanner, field in
                    if field == "subdir" { scanner.subdir = try scanner.stringOrSkip() }
                    else if field == "base_url" { scanner.baseURL = try scanner.stringOrSkip() }
                    else { try scanner.skipValue() }
                }
            case "removed":
                try scanner.expect(UInt8(ascii: "["))
                scanner.skipSpace()
                if scanner.peek() == UInt8(ascii: "]") { scanner.index += 1; return }
                while true {
                    scanner.skipSpace()
                    if let file = try scanner.stringOrSkip() { scanner.removed.insert(file) }
                    scanner.skipSpace()
                    if scanner.peek() == UInt8(ascii: ",") { scanner.index += 1; continue }
                    try scanner.expect(UInt8(ascii: "]"))
                    return
                }
            default:
                try scanner.skipValue()
            }
        }
    }

    /// Walks an object's members (the `{` already read), handing each key to `body` positioned at its value.
    mutating func members(_ body: (inout RepodataScanner, String) throws -> Void) throws {
        skipSpace()
        if peek() == UInt8(ascii: "}") { index += 1; return }
        while true {
            skipSpace()
            let key = try string()
            skipSpace()
            try expect(UInt8(ascii: ":"))
            skipSpace()
            try body(&self, key)
            skipSpace()
            if peek() == UInt8(ascii: ",") { index += 1; continue }
            try expect(UInt8(ascii: "}"))
            return
        }
    }

    /// Reads one record object, returning its `name` (the object is consumed).
    mutating func recordName() throws -> String? {
        try expect(UInt8(ascii: "{"))
        var name: String?
        try members { scanner, key in
            if key == "name" { name = try scanner.stringOrSkip() } else { try scanner.skipValue() }
        }
        return name
    }

    func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipSpace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 { index += 1 }
    }

    mutating func expect(_ byte: UInt8) throws {
        skipSpace()
        guard peek() == byte else { throw failure("expected '\(Character(UnicodeScalar(byte)))'") }
        index += 1
    }

    mutating func stringOrSkip() throws -> String? {
        if peek() == UInt8(ascii: "\"") { return try string() }
        try skipValue()
        return nil
    }

    /// A JSON string, unescaped.
    mutating func string() throws -> String {
        guard peek() == UInt8(ascii: "\"") else { throw failure("expected a string") }
        index += 1
        let start = index
        var escaped = false
        while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
            if bytes[index] == UInt8(ascii: "\\") { escaped = true; index += 1 }
            index += 1
        }
        guard index < bytes.count else { throw failure("unterminated string") }
        let raw = bytes[start..<index]
        index += 1
        guard escaped else { return String(decoding: raw, as: UTF8.self) }
        let quoted = Data([UInt8(ascii: "\"")] + raw + [UInt8(ascii: "\"")])
        guard let text = try? JSONDecoder().decode(String.self, from: quoted) else { throw failure("bad escape") }
        return text
    }

    /// Skips any value: string, number, literal, object or array.
    mutating func skipValue() throws {
        skipSpace()
        guard let first = peek() else { throw failure("unexpected end") }
        if first == UInt8(ascii: "\"") { _ = try string(); return }
        if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
            var depth = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") { _ = try string(); continue }
                if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") { depth += 1 }
                if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { index += 1; return }
                }
                index += 1
            }
            throw failure("unterminated object")
        }
        while index < bytes.count, !",}] \n\r\t".utf8.contains(bytes[index]) { index += 1 }
    }
}
