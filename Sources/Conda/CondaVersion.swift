import Foundation

/// A conda version with conda's ordering (`conda/models/version.py`, `VersionOrder`): an optional
/// epoch (`1!`), dot/underscore separated components split into number and text runs, and an
/// optional local part (`+`). `dev` sorts below every other text, `post` above every number, text
/// below numbers, and missing parts count as 0, so `1.1 == 1.1.0`.
public struct CondaVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// One run inside a component: a number, `post` (+∞), or text.
    enum Part: Hashable, Sendable {
        case number(UInt64)
        case infinity
        case text(String)
    }

    public let description: String
    let version: [[Part]]   // the epoch is the first component
    let local: [[Part]]

    public init(_ text: String) throws {
        let original = text
        var string = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !string.isEmpty else { throw CondaError.invalidVersion(original, "empty") }
        guard string.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "*.+!_-".contains($0)) }) else {
            throw CondaError.invalidVersion(original, "unexpected character")
        }
        // Dashes count as underscores when the version has no underscores (1.0-1 → 1.0_1).
        if string.contains("-") {
            guard !string.contains("_") else { throw CondaError.invalidVersion(original, "mixes '-' and '_'") }
            string = string.replacingOccurrences(of: "-", with: "_")
        }
        var epoch: [[Part]] = [[.number(0)]]
        let bang = string.split(separator: "!", omittingEmptySubsequences: false)
        guard bang.count <= 2 else { throw CondaError.invalidVersion(original, "more than one '!'") }
        if bang.count == 2 {
            guard let value = UInt64(bang[0]) else { throw CondaError.invalidVersion(original, "epoch must be a number") }
            epoch = [[.number(value)]]
        }
        let plus = bang.last.map { $0.split(separator: "+", omittingEmptySubsequences: false) } ?? []
        guard plus.count <= 2, let main = plus.first, !main.isEmpty else { throw CondaError.invalidVersion(original, "empty version or several '+'") }
        version = epoch + (try Self.components(main, original))
        local = plus.count == 2 ? try Self.components(plus[1], original) : []
        description = original.trimmingCharacters(in: .whitespaces)
    }

    static func components(_ text: Substring, _ original: String) throws -> [[Part]] {
        var body = String(text)
        // openssl style: a trailing underscore belongs to the last component (1.0.1_ < 1.0.1a).
        let trailingUnderscore = body.hasSuffix("_")
        if trailingUnderscore { body.removeLast() }
        var pieces = body.split(separator: "_", omittingEmptySubsequences: false).flatMap { $0.split(separator: ".", omittingEmptySubsequences: false) }.map(String.init)
        if trailingUnderscore, !pieces.isEmpty { pieces[pieces.count - 1] += "_" }
        return try pieces.map { piece in
            guard !piece.isEmpty else { throw CondaError.invalidVersion(original, "empty component") }
            var parts: [Part] = []
            var current = ""
            var currentIsDigit = false
            func flush() {
                guard !current.isEmpty else { return }
                if currentIsDigit {
                    parts.append(.number(UInt64(current.prefix(18)) ?? UInt64.max))
                } else if current == "post" {
                    parts.append(.infinity)
                } else if current == "dev" {
                    parts.append(.text("DEV"))
                } else {
                    parts.append(.text(current))
                }
                current = ""
            }
            for character in piece {
                let digit = character.isNumber
                if !current.isEmpty, digit != currentIsDigit { flush() }
                currentIsDigit = digit
                current.append(character)
            }
            flush()
            if piece.first?.isLetter == true || piece.first == "_" { parts.insert(.number(0), at: 0) }
            return parts
        }
    }

    /// text < number < post; texts compare as strings (`DEV` < `_` < letters).
    static func less(_ a: Part, _ b: Part) -> Bool {
        switch (a, b) {
        case let (.text(x), .text(y)): return x < y
        case (.text, _): return true
        case (_, .text): return false
        case let (.number(x), .number(y)): return x < y
        case (.number, .infinity): return true
        default: return false
        }
    }

    static func compare(_ a: [[Part]], _ b: [[Part]]) -> Int {
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : []
            let y = index < b.count ? b[index] : []
            for inner in 0..<max(x.count, y.count) {
                let p = inner < x.count ? x[inner] : .number(0)
                let q = inner < y.count ? y[inner] : .number(0)
                if p == q { continue }
                return less(p, q) ? -1 : 1
            }
        }
        return 0
    }

    public static func < (lhs: CondaVersion, rhs: CondaVersion) -> Bool {
        let main = compare(lhs.version, rhs.version)
        return main != 0 ? main < 0 : compare(lhs.local, rhs.local) < 0
    }

    public static func == (lhs: CondaVersion, rhs: CondaVersion) -> Bool {
        compare(lhs.version, rhs.version) == 0 && compare(lhs.local, rhs.local) == 0
    }

    public func hash(into hasher: inout Hasher) {
        // Equal versions may be spelled differently (1.1 and 1.1.0): hash without trailing zeros.
        func trimmed(_ list: [[Part]]) -> [[Part]] {
            var copy = list.map { component -> [Part] in
                var parts = component
                while parts.count > 1, parts.last == .number(0) { parts.removeLast() }
                return parts
            }
            while copy.count > 1, copy.last == [.number(0)] { copy.removeLast() }
            return copy
        }
        hasher.combine(trimmed(version))
        hasher.combine(trimmed(local))
    }

    /// conda's `VersionOrder.startswith`: all but the last component of `prefix` equal, and the last
    /// one a prefix of ours (text runs by string prefix).
    public func starts(with prefix: CondaVersion) -> Bool {
        let (mine, theirs): ([[Part]], [[Part]])
        if !prefix.local.isEmpty {
            guard Self.compare(version, prefix.version) == 0 else { return false }
            (mine, theirs) = (local, prefix.local)
        } else {
            (mine, theirs) = (version, prefix.version)
        }
        let last = theirs.count - 1
        guard last >= 0, Self.compare(Array(mine.prefix(last)), Array(theirs.prefix(last))) == 0 else { return false }
        let c1 = last < mine.count ? mine[last] : [.number(0)]
        let c2 = theirs[last]
        let inner = c2.count - 1
        guard Self.compare([Array(c1.prefix(inner))], [Array(c2.prefix(inner))]) == 0 else { return false }
        let p1: Part = inner < c1.count ? c1[inner] : .number(0)
        if case let .text(wanted) = c2[inner] {
            if case let .text(have) = p1 { return have.hasPrefix(wanted) }
            return false
        }
        return p1 == c2[inner]
    }

    /// The version with its last component dropped, for `~=` (compatible release).
    var droppingLastComponent: CondaVersion? {
        let parts = description.split(separator: ".")
        guard parts.count > 1 else { return nil }
        return try? CondaVersion(parts.dropLast().joined(separator: "."))
    }
}
