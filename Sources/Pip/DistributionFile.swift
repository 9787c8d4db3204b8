import Foundation
import HTTP

/// One file a package index lists for a project (PEP 503 anchor or PEP 691 `files` entry).
public struct DistributionFile: Sendable, Hashable {
    public var fileName: String
    /// Absolute, without credentials (those are added per host when fetching).
    public var url: String
    public var sha256: String?
    public var requiresPython: VersionSpecifiers?
    /// PEP 658/714: the index serves `<url>.metadata`.
    public var hasMetadataFile: Bool
    public var metadataSHA256: String?
    public var yanked: Bool
    /// Position of the index or find-links source that listed it (earlier wins ties, as in pip).
    public var sourceOrder: Int

    public var wheel: WheelName? { WheelName(fileName) }
}

/// Parses simple-API pages.
enum SimplePage {
    /// The most files Kiln reads from one project page. The largest real PyPI pages list tens of thousands
    /// of files (projects with many releases of many wheels each); 200,000 is well above them. A hostile
    /// page with a million links (90 MB of HTML, under the 256 MiB page limit) cost about 1 GB of memory
    /// and minutes of parsing before this bound; the links are counted in the raw bytes, before parsing.
    static let maxFiles = 200_000

    /// Refuses a page whose `count` of file entries is over `maxFiles`.
    static func check(_ count: Int, pageURL: String) throws {
        guard count <= maxFiles else {
            throw PipError.index("\(Redaction.url(pageURL)) lists more than \(maxFiles) files; Kiln reads at most \(maxFiles) from one project page")
        }
    }

    /// How many times `needle` occurs in `data`, ASCII letters compared without case; stops past `maxFiles`.
    /// `followedBySpace` counts only occurrences followed by whitespace (`<a ` but not `<abbr`).
    static func occurrences(of needle: String, in data: Data, followedBySpace: Bool = false) -> Int {
        let pattern = Array(needle.lowercased().utf8)
        guard let first = pattern.first else { return 0 }
        return data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Int in
            let bytes = raw.bindMemory(to: UInt8.self)
            var count = 0
            var index = 0
            let end = bytes.count - pattern.count - (followedBySpace ? 1 : 0)
            while index <= end, count <= maxFiles {
                if bytes[index] | 0x20 == first | 0x20 {
                    var matched = true
                    for offset in 1..<pattern.count {
                        let byte = bytes[index + offset]
                        let lowered = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
                        if lowered != pattern[offset] { matched = false; break }
                    }
                    if matched, followedBySpace {
                        let next = bytes[index + pattern.count]
                        matched = next == 0x20 || next == 0x09 || next == 0x0A || next == 0x0D || next == 0x0C
                    }
                    if matched { count += 1; index += pattern.count; continue }
                }
                index += 1
            }
            return count
        }
    }

    /// PEP 691 JSON.
    static func json(_ data: Data, pageURL: String, order: Int) throws -> [DistributionFile] {
        try check(occurrences(of: #""filename""#, in: data), pageURL: pageURL)
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let files = object["files"] as? [[String: Any]] else {
            throw PipError.index("\(Redaction.url(pageURL)) is not a PEP 691 JSON page")
        }
        return files.compactMap { file in
            guard let name = file["filename"] as? String, let href = file["url"] as? String else { return nil }
            let hashes = file["hashes"] as? [String: Any]
            let metadata = file["core-metadata"] ?? file["dist-info-metadata"]
            var hasMetadata = false, metadataHash: String?
            if let flag = metadata as? Bool { hasMetadata = flag }
            if let dictionary = metadata as? [String: Any] { hasMetadata = true; metadataHash = dictionary["sha256"] as? String }
            let yanked = (file["yanked"] as? Bool) ?? (file["yanked"] is String)
            return DistributionFile(fileName: name, url: resolve(href, against: pageURL).url, sha256: (hashes?["sha256"] as? String)?.lowercased(),
                                    requiresPython: (file["requires-python"] as? String).flatMap(specifiers),
                                    hasMetadataFile: hasMetadata, metadataSHA256: metadataHash, yanked: yanked, sourceOrder: order)
        }
    }

    /// PEP 503 HTML (also find-links pages): every anchor, with its data- attributes.
    static func html(_ data: Data, pageURL: String, order: Int) throws -> [DistributionFile] {
        try check(occurrences(of: "<a", in: data, followedBySpace: true), pageURL: pageURL)
        let text = String(decoding: data, as: UTF8.self)
        var base = pageURL
        if let match = text.range(of: #"<base\s+href\s*=\s*["']([^"']+)["']"#, options: [.regularExpression, .caseInsensitive]) {
            let tag = String(text[match])
            if let href = attributes(tag)["href"] { base = resolve(href, against: pageURL).url }
        }
        var files: [DistributionFile] = []
        var searchStart = text.startIndex
        while let open = text.range(of: "<a", options: .caseInsensitive, range: searchStart..<text.endIndex) {
            guard let close = text.range(of: ">", range: open.upperBound..<text.endIndex),
                  let end = text.range(of: "</a>", options: .caseInsensitive, range: close.upperBound..<text.endIndex) else { break }
            searchStart = end.upperBound
            let tag = String(text[open.lowerBound..<close.upperBound])
            guard tag.count > 2, tag[tag.index(tag.startIndex, offsetBy: 2)].isWhitespace else { continue }
            let attrs = attributes(tag)
            guard let href = attrs["href"] else { continue }
            let (url, fragment) = resolve(href, against: base)
            let name = unescape(String(text[close.upperBound..<end.lowerBound])).trimmingCharacters(in: .whitespacesAndNewlines)
            let fileName = name.isEmpty || name.contains("<") ? (url.split(separator: "/").last.map(String.init) ?? "") : name
            var sha256: String?
            if let fragment, fragment.hasPrefix("sha256=") { sha256 = String(fragment.dropFirst(7)).lowercased() }
            let metadata = attrs["data-core-metadata"] ?? attrs["data-dist-info-metadata"]
            let metadataHash = metadata.flatMap { $0.hasPrefix("sha256=") ? String($0.dropFirst(7)) : nil }
            files.append(DistributionFile(fileName: fileName.removingPercentEncoding ?? fileName, url: url, sha256: sha256,
                                          requiresPython: attrs["data-requires-python"].flatMap(specifiers),
                                          hasMetadataFile: metadata != nil && metadata != "false", metadataSHA256: metadataHash,
                                          yanked: attrs["data-yanked"] != nil, sourceOrder: order))
        }
        return files
    }

    static func specifiers(_ text: String) -> VersionSpecifiers? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : try? VersionSpecifiers(parsing: trimmed)
    }

    /// `key="value"` pairs of a tag, HTML-unescaped; bare attributes map to "". Scanned by hand rather
    /// than with a regular expression, which cost most of the parse on a page of 200,000 links. Names are
    /// `[A-Za-z_:][-A-Za-z0-9_:.]*`; values are quoted with " or ', or run to whitespace, a quote or `>`;
    /// anything else between attributes is skipped.
    static func attributes(_ tag: String) -> [String: String] {
        var result: [String: String] = [:]
        let bytes = Array(tag.utf8.dropFirst(2).dropLast())
        func isNameStart(_ byte: UInt8) -> Bool {
            (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || byte == 0x5F || byte == 0x3A
        }
        func isName(_ byte: UInt8) -> Bool { isNameStart(byte) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x2E }
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) }
        func text(_ start: Int, _ end: Int) -> String { String(decoding: bytes[start..<end], as: UTF8.self) }
        var index = 0
        while index < bytes.count {
            guard isNameStart(bytes[index]) else { index += 1; continue }
            let nameStart = index
            while index < bytes.count, isName(bytes[index]) { index += 1 }
            let name = text(nameStart, index).lowercased()
            var value = ""
            var cursor = index
            while cursor < bytes.count, isSpace(bytes[cursor]) { cursor += 1 }
            if cursor < bytes.count, bytes[cursor] == 0x3D {
                cursor += 1
                while cursor < bytes.count, isSpace(bytes[cursor]) { cursor += 1 }
                if cursor < bytes.count, bytes[cursor] == 0x22 || bytes[cursor] == 0x27 {
                    let quote = bytes[cursor]
                    if let close = bytes[(cursor + 1)...].firstIndex(of: quote) {
                        value = text(cursor + 1, close)
                        index = close + 1
                    }
                } else {
                    let valueStart = cursor
                    while cursor < bytes.count, !isSpace(bytes[cursor]), bytes[cursor] != 0x22, bytes[cursor] != 0x27, bytes[cursor] != 0x3E { cursor += 1 }
                    if cursor > valueStart {
                        value = text(valueStart, cursor)
                        index = cursor
                    }
                }
            }
            result[name] = unescape(value)
        }
        return result
    }

    static func unescape(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var result = text
        for (entity, character) in [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'"), ("&#x27;", "'"), ("&amp;", "&")] {
            result = result.replacingOccurrences(of: entity, with: character)
        }
        return result
    }

    /// An href made absolute against the page; the fragment split off.
    static func resolve(_ href: String, against page: String) -> (url: String, fragment: String?) {
        var link = href
        var fragment: String?
        if let hash = link.firstIndex(of: "#") {
            fragment = String(link[link.index(after: hash)...])
            link = String(link[..<hash])
        }
        if link.contains("://") { return (link, fragment) }
        guard let base = URL(string: page.hasSuffix("/") || link.hasPrefix("/") ? page : page + "/"),
              let absolute = URL(string: link, relativeTo: base) else { return (link, fragment) }
        return (absolute.absoluteString, fragment)
    }
}
