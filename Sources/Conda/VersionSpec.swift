import Foundation

/// A conda version constraint: `,` is and, `|` is or (and binds tighter), with parentheses;
/// operators `== != < <= > >= ~= =`; `1.2.*` / `1.2*` start with; `*` anything; a bare version is
/// exact (`1.2` matches `1.2.0`). Parsing is lenient as conda's is for repodata (`>=3.8*`).
public indirect enum VersionSpec: Sendable, Hashable, CustomStringConvertible {
    case any
    case exact(CondaVersion)
    case notEqual(CondaVersion)
    case less(CondaVersion), lessOrEqual(CondaVersion), greater(CondaVersion), greaterOrEqual(CondaVersion)
    case startsWith(CondaVersion)
    case notStartsWith(CondaVersion)
    case compatible(CondaVersion)
    case all([VersionSpec])
    case oneOf([VersionSpec])

    public init(parsing text: String) throws {
        var parser = Parser(text: Array(text.filter { !$0.isWhitespace }), original: text)
        let spec = try parser.expression()
        guard parser.index == parser.text.count else { throw CondaError.invalidSpec(text, "unexpected '\(String(parser.text[parser.index...]))'") }
        self = spec
    }

    public func matches(_ version: CondaVersion) -> Bool {
        switch self {
        case .any: return true
        case let .exact(v): return version == v
        case let .notEqual(v): return version != v
        case let .less(v): return version < v
        case let .lessOrEqual(v): return version <= v
        case let .greater(v): return version > v
        case let .greaterOrEqual(v): return version >= v
        case let .startsWith(v): return version.starts(with: v)
        case let .notStartsWith(v): return !version.starts(with: v)
        case let .compatible(v): return version >= v && (v.droppingLastComponent.map { version.starts(with: $0) } ?? true)
        case let .all(specs): return specs.allSatisfy { $0.matches(version) }
        case let .oneOf(specs): return specs.contains { $0.matches(version) }
        }
    }

    public var description: String {
        switch self {
        case .any: return "*"
        case let .exact(v): return "==\(v)"
        case let .notEqual(v): return "!=\(v)"
        case let .less(v): return "<\(v)"
        case let .lessOrEqual(v): return "<=\(v)"
        case let .greater(v): return ">\(v)"
        case let .greaterOrEqual(v): return ">=\(v)"
        case let .startsWith(v): return "\(v).*"
        case let .notStartsWith(v): return "!=\(v).*"
        case let .compatible(v): return "~=\(v)"
        case let .all(specs): return specs.map { if case .oneOf = $0 { return "(\($0))" } else { return "\($0)" } }.joined(separator: ",")
        case let .oneOf(specs): return specs.map(\.description).joined(separator: "|")
        }
    }

    struct Parser {
        let text: [Character]
        let original: String
        var index = 0

        mutating func expression() throws -> VersionSpec {
            var terms = [try term()]
            while index < text.count, text[index] == "|" {
                index += 1
                terms.append(try term())
            }
            return terms.count == 1 ? terms[0] : .oneOf(terms)
        }

        mutating func term() throws -> VersionSpec {
            var factors = [try factor()]
            while index < text.count, text[index] == "," {
                index += 1
                factors.append(try factor())
            }
            return factors.count == 1 ? factors[0] : .all(factors)
        }

        mutating func factor() throws -> VersionSpec {
            if index < text.count, text[index] == "(" {
                index += 1
                let inner = try expression()
                guard index < text.count, text[index] == ")" else { throw CondaError.invalidSpec(original, "missing ')'") }
                index += 1
                return inner
            }
            let start = index
            while index < text.count, !",|()".contains(text[index]) { index += 1 }
            return try Self.constraint(String(text[start..<index]), original: original)
        }

        static func constraint(_ token: String, original: String) throws -> VersionSpec {
            guard !token.isEmpty else { throw CondaError.invalidSpec(original, "empty version constraint") }
            if token == "*" || token == "*.*" { return .any }
            if token.hasPrefix("^") || token.hasSuffix("$") {
                throw CondaError.invalidSpec(original, "regular-expression version specs are not supported")
            }
            let operators = ["==", "!=", "<=", ">=", "~=", "<", ">", "="]
            let op = operators.first { token.hasPrefix($0) } ?? ""
            var rest = String(token.dropFirst(op.count))
            var wildcard = false
            if rest.hasSuffix(".*") { rest.removeLast(2); wildcard = true } else if rest.hasSuffix("*") { rest.removeLast(); wildcard = true }
            if rest.hasSuffix(".") { rest.removeLast() }
            guard !rest.isEmpty else {
                if wildcard && (op.isEmpty || op == "=" || op == ">=") { return .any }
                throw CondaError.invalidSpec(original, "operator '\(op)' without a version")
            }
            guard !rest.contains("*") else { throw CondaError.invalidSpec(original, "'*' may only end a version") }
            let version = try CondaVersion(rest)
            switch op {
            case "": return wildcard ? .startsWith(version) : .exact(version)
            case "==": return wildcard ? .startsWith(version) : .exact(version)
            case "=": return .startsWith(version)
            case "!=": return wildcard ? .notStartsWith(version) : .notEqual(version)
            case "<": return .less(version)
            case "<=": return .lessOrEqual(version)
            case ">": return .greater(version)
            case ">=": return .greaterOrEqual(version)
            case "~=": return .compatible(version)
            default: throw CondaError.invalidSpec(original, "unknown operator '\(op)'")
            }
        }
    }
}

/// A build-string pattern with `*` wildcards.
public struct GlobPattern: Sendable, Hashable, CustomStringConvertible {
    public let description: String
    let pieces: [Substring]

    public init(_ text: String) {
        description = text
        pieces = text.split(separator: "*", omittingEmptySubsequences: false)
    }

    public func matches(_ value: String) -> Bool {
        guard pieces.count > 1 else { return value == description }
        var rest = Substring(value)
        guard rest.hasPrefix(pieces[0]) else { return false }
        rest = rest.dropFirst(pieces[0].count)
        for piece in pieces.dropFirst().dropLast() where !piece.isEmpty {
            guard let range = rest.range(of: piece) else { return false }
            rest = rest[range.upperBound...]
        }
        let last = pieces[pieces.count - 1]
        return rest.hasSuffix(last)
    }
}
