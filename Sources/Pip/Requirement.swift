import Foundation

/// A PEP 508 dependency specifier: `name[extra,...] (specifiers | @ url) ; marker`.
public struct Requirement: Sendable, Hashable, CustomStringConvertible {
    /// The name as written.
    public var name: String
    /// Normalized extras, sorted.
    public var extras: [String]
    public var specifiers: VersionSpecifiers
    /// A direct reference (`name @ https://…/x.whl`).
    public var url: String?
    public var marker: Marker?
    /// The line it came from, for messages.
    public var text: String

    /// PEP 503 normalized name: runs of `-`, `_`, `.` become `-`, lowercased.
    public var key: String { normalizeName(name) }

    public init(name: String, extras: [String] = [], specifiers: VersionSpecifiers = .any, url: String? = nil,
                marker: Marker? = nil, text: String? = nil) {
        self.name = name
        self.extras = extras
        self.specifiers = specifiers
        self.url = url
        self.marker = marker
        self.text = text ?? name
    }

    public init(parsing input: String) throws {
        text = input.trimmingCharacters(in: .whitespaces)
        var scanner = Substring(text)
        func fail(_ why: String) -> PipError { .invalidRequirement(input, why) }
        func skipSpace() { scanner = scanner.drop { $0 == " " || $0 == "\t" } }
        skipSpace()
        let nameChars = scanner.prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }
        guard let first = nameChars.first, first.isLetter || first.isNumber,
              let last = nameChars.last, last.isLetter || last.isNumber, nameChars.allSatisfy(\.isASCII) else {
            throw fail("it does not start with a package name")
        }
        name = String(nameChars)
        scanner = scanner.dropFirst(nameChars.count)
        skipSpace()
        extras = []
        if scanner.first == "[" {
            guard let close = scanner.firstIndex(of: "]") else { throw fail("'[' has no closing ']'") }
            let list = scanner[scanner.index(after: scanner.startIndex)..<close]
            for item in list.split(separator: ",") {
                let extra = item.trimmingCharacters(in: .whitespaces)
                guard !extra.isEmpty, extra.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                    throw fail("'\(extra)' is not a valid extra name")
                }
                extras.append(normalizeName(extra))
            }
            extras = Array(Set(extras)).sorted()
            scanner = scanner[scanner.index(after: close)...]
            skipSpace()
        }
        url = nil
        specifiers = .any
        marker = nil
        var markerText: Substring?
        if scanner.first == "@" {
            scanner = scanner.dropFirst()
            skipSpace()
            // A URL ends at whitespace; a marker after it must be separated by whitespace and ';'.
            let urlText = scanner.prefix { $0 != " " && $0 != "\t" }
            guard !urlText.isEmpty, urlText.contains(":") else { throw fail("'@' is not followed by a URL") }
            url = String(urlText)
            scanner = scanner.dropFirst(urlText.count)
            skipSpace()
            if scanner.first == ";" { markerText = scanner.dropFirst() } else if !scanner.isEmpty {
                throw fail("unexpected '\(scanner)' after the URL")
            }
        } else {
            let specText: Substring
            if let semicolon = scanner.firstIndex(of: ";") {
                specText = scanner[..<semicolon]
                markerText = scanner[scanner.index(after: semicolon)...]
            } else {
                specText = scanner
            }
            var spec = specText.trimmingCharacters(in: .whitespaces)
            if spec.hasPrefix("(") {
                guard spec.hasSuffix(")") else { throw fail("'(' has no closing ')'") }
                spec = String(spec.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
            }
            if !spec.isEmpty {
                do { specifiers = try VersionSpecifiers(parsing: spec) } catch let error as PipError {
                    throw fail(error.description)
                }
            }
        }
        if let markerText {
            do { marker = try Marker(parsing: String(markerText)) } catch let error as PipError {
                throw fail(error.description)
            }
        }
    }

    public var description: String { text }
}

extension VersionSpecifiers {
    /// No constraint.
    public static let any = VersionSpecifiers(clauses: [])

    public init(clauses: [Clause]) { self.clauses = clauses }
}

/// PEP 503 name normalization.
public func normalizeName(_ name: String) -> String {
    var out = ""
    var lastWasSeparator = false
    for character in name.lowercased() {
        if character == "-" || character == "_" || character == "." {
            if !lastWasSeparator { out.append("-") }
            lastWasSeparator = true
        } else {
            out.append(character)
            lastWasSeparator = false
        }
    }
    return out
}
