import Foundation

/// Indexes a repodata.json by package name without decoding its records: one pass over the bytes
/// finds each record's file name, byte range and package name (from the file name; from `name` only
/// when the file name is not `<name>-<version>-<build>.<ext>`). Records are decoded later, and only for the
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

    /// The repodata as read, kept (not copied: a copy doubled the peak memory of a large channel);
    /// records are decoded from it later.
    let bytes: Data
    /// `bytes` while a scan or a decode is under way (inside `withUnsafeBytes`), empty otherwise.
    private var buffer = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
    private var index = 0
    private let what: String

    init(_ data: Data, what: String) throws {
        bytes = data
        self.what = what
        try data.withUnsafeBytes { raw in
            buffer = raw.bindMemory(to: UInt8.self)
            defer { buffer = UnsafeBufferPointer(start: nil, count: 0) }
            try scan()
        }
    }

    /// A scanner over `raw`, valid only while `raw` is.
    private init(raw: UnsafeRawBufferPointer, what: String) {
        bytes = Data()
        buffer = raw.bindMemory(to: UInt8.self)
        self.what = what
    }

    /// The records of `entries`, read straight from the bytes (no generic JSON decoding).
    static func decode(_ entries: [Entry], from bytes: Data) throws -> [RepodataRecord] {
        try bytes.withUnsafeBytes { raw in
            var scanner = RepodataScanner(raw: raw, what: "record")
            return try entries.map { entry in
                scanner.index = entry.range.lowerBound
                return try scanner.record()
            }
        }
    }

    /// Only the version and whether track_features is set, per entry: what ranking a name needs, without
    /// decoding the rest of its records.
    static func versions(_ entries: [Entry], from bytes: Data) throws -> [(version: String, tracked: Bool)] {
        try bytes.withUnsafeBytes { raw in
            var scanner = RepodataScanner(raw: raw, what: "record")
            return try entries.map { entry in
                scanner.index = entry.range.lowerBound
                try scanner.expect(UInt8(ascii: "{"))
                var version: String?
                var tracked = false
                try scanner.members { scanner, key in
                    switch key {
                    case "version": version = try scanner.stringOrSkip()
                    case "track_features":
                        if scanner.peek() == UInt8(ascii: "[") { tracked = !(try scanner.strings()).allSatisfy(\.isEmpty) }
                        else { tracked = !(try scanner.stringOrSkip() ?? "").split(whereSeparator: { $0 == "," || $0 == " " }).isEmpty }
                    default: try scanner.skipValue()
                    }
                }
                guard let version else { throw scanner.failure("a record lacks a version") }
                return (version, tracked)
            }
        }
    }

    /// One record object, the fields Kiln uses; others are skipped, nulls count as absent.
    mutating func record() throws -> RepodataRecord {
        try expect(UInt8(ascii: "{"))
        var record = RepodataRecord(name: "", version: "", build: "")
        var seen = (name: false, version: false, build: false)
        try members { scanner, key in
            if scanner.peek() == UInt8(ascii: "n"), key != "noarch" { try scanner.skipValue(); return }
            switch key {
            case "name": if let text = try scanner.stringOrSkip() { record.name = text; seen.name = true }
            case "version": if let text = try scanner.stringOrSkip() { record.version = text; seen.version = true }
            case "build": if let text = try scanner.stringOrSkip() { record.build = text; seen.build = true }
            case "build_number": record.buildNumber = try scanner.integer()
            case "depends": record.depends = try scanner.strings()
            case "constrains": record.constrains = try scanner.strings()
            case "track_features":
                if scanner.peek() == UInt8(ascii: "[") { record.trackFeatures = try scanner.strings() }
                else { record.trackFeatures = (try scanner.stringOrSkip() ?? "").split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init) }
            case "subdir": record.subdir = try scanner.stringOrSkip()
            case "noarch":
                if scanner.peek() == UInt8(ascii: "t") { try scanner.skipValue(); record.noarch = "generic" }
                else { record.noarch = try scanner.stringOrSkip() }
            case "timestamp": record.timestamp = try scanner.integer()
            case "md5": record.md5 = try scanner.stringOrSkip()
            case "sha256": record.sha256 = try scanner.stringOrSkip()
            case "size": record.size = try scanner.integer()
            case "python_site_packages_path": record.pythonSitePackagesPath = try scanner.stringOrSkip()
            default: try scanner.skipValue()
            }
        }
        guard seen.name, seen.version, seen.build else { throw failure("a record lacks name, version or build") }
        return record
    }

    mutating func strings() throws -> [String] {
        try expect(UInt8(ascii: "["))
        var result: [String] = []
        skipSpace()
        if peek() == UInt8(ascii: "]") { index += 1; return result }
        while true {
            skipSpace()
            result.append(try string())
            skipSpace()
            if peek() == UInt8(ascii: ",") { index += 1; continue }
            try expect(UInt8(ascii: "]"))
            return result
        }
    }

    /// An integer (a float such as 1.5e12 is rounded); nil for other values.
    mutating func integer() throws -> Int64? {
        skipSpace()
        var value: Int64 = 0
        var digits = 0
        while index < buffer.count, buffer[index] >= 0x30, buffer[index] <= 0x39, digits < 18 {
            value = value * 10 + Int64(buffer[index] - 0x30)
            index += 1
            digits += 1
        }
        if digits > 0, let next = peek(), next == UInt8(ascii: ",") || next == UInt8(ascii: "}") || next == 0x20 || next == 0x0A {
            return value
        }
        index -= digits
        let start = index
        try skipValue()
        let text = String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<index]), as: UTF8.self).trimmingCharacters(in: .whitespaces)
        return Int64(text) ?? Double(text).flatMap { Int64(exactly: $0.rounded()) }
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
                    let name: String?
                    if let fromFile = Self.packageName(fileName: fileName) {
                        // The file name says the package: the record is skipped whole, not walked member by member
                        // (as rattler's sparse index does). `ChannelIndex` checks the two agree when it decodes it.
                        guard scanner.peek() == UInt8(ascii: "{") else { throw scanner.failure("expected '{'") }
                        try scanner.skipValue()
                        name = fromFile
                    } else {
                        name = try scanner.recordName()?.lowercased()
                    }
                    if let name { scanner.byName[name, default: []].append(Entry(fileName: fileName, range: start..<scanner.index)) }
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

    /// The package name of a conda file name, `<name>-<version>-<build>.tar.bz2` or `.conda` (the version
    /// and build have no `-`), lowercased; nil for any other shape.
    static func packageName(fileName: String) -> String? {
        // On the UTF-8 bytes: Character-wise searches cost more than the rest of the scan.
        let bytes = fileName.utf8
        let suffix: Int
        if fileName.hasSuffix(".tar.bz2") {
            suffix = 8
        } else if fileName.hasSuffix(".conda") {
            suffix = 6
        } else {
            return nil
        }
        let dash = UInt8(ascii: "-")
        let stemEnd = bytes.index(bytes.endIndex, offsetBy: -suffix)
        guard let buildDash = bytes[..<stemEnd].lastIndex(of: dash), bytes.index(after: buildDash) < stemEnd,
              let versionDash = bytes[..<buildDash].lastIndex(of: dash), versionDash > bytes.startIndex,
              bytes.index(after: versionDash) < buildDash else { return nil }
        let name = Substring(fileName.utf8[..<versionDash])
        return name.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A || $0 >= 0x80 }) ? name.lowercased() : String(name)
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

    func peek() -> UInt8? { index < buffer.count ? buffer[index] : nil }

    mutating func skipSpace() {
        while index < buffer.count, buffer[index] == 0x20 || buffer[index] == 0x0A || buffer[index] == 0x0D || buffer[index] == 0x09 { index += 1 }
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
        while index < buffer.count, buffer[index] != UInt8(ascii: "\"") {
            if buffer[index] == UInt8(ascii: "\\") { escaped = true; index += 1 }
            index += 1
        }
        guard index < buffer.count else { throw failure("unterminated string") }
        let raw = UnsafeBufferPointer(rebasing: buffer[start..<index])
        index += 1
        guard escaped else { return String(decoding: raw, as: UTF8.self) }
        let quoted = Data([UInt8(ascii: "\"")] + raw + [UInt8(ascii: "\"")])
        guard let text = try? JSONDecoder().decode(String.self, from: quoted) else { throw failure("bad escape") }
        return text
    }

    /// Passes over a JSON string without building it.
    mutating func skipString() throws {
        index += 1
        while index < buffer.count, buffer[index] != UInt8(ascii: "\"") {
            if buffer[index] == UInt8(ascii: "\\") { index += 1 }
            index += 1
        }
        guard index < buffer.count else { throw failure("unterminated string") }
        index += 1
    }

    /// Skips any value: string, number, literal, object or array.
    mutating func skipValue() throws {
        skipSpace()
        guard let first = peek() else { throw failure("unexpected end") }
        if first == UInt8(ascii: "\"") { try skipString(); return }
        if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
            var depth = 0
            while index < buffer.count {
                let byte = buffer[index]
                if byte == UInt8(ascii: "\"") { try skipString(); continue }
                if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") { depth += 1 }
                if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { index += 1; return }
                }
                index += 1
            }
            throw failure("unterminated object")
        }
        while index < buffer.count, !",}] \n\r\t".utf8.contains(buffer[index]) { index += 1 }
    }
}
