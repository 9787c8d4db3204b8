import Foundation

/// The values a PEP 508 marker is evaluated against: the target environment, never the build host.
public struct MarkerEnvironment: Sendable, Hashable {
    public var values: [String: String]

    /// CPython `python` (X.Y.Z) on Linux for `machine` (uname -m spelling: x86_64, aarch64).
    public init(python: PythonVersion, machine: String) {
        let release = python.release + [0, 0, 0]
        let short = "\(release[0]).\(release[1])"
        values = [
            "python_version": short,
            "python_full_version": python.description,
            "implementation_version": python.description,
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "os_name": "posix",
            "sys_platform": "linux",
            "platform_system": "Linux",
            "platform_machine": machine,
            "platform_release": "",
            "platform_version": "",
        ]
    }
}

/// A PEP 508 environment marker (`python_version < "3.12" and extra == "socks"`).
public indirect enum Marker: Sendable, Hashable, CustomStringConvertible {
    case compare(lhs: Operand, op: String, rhs: Operand)
    case and(Marker, Marker)
    case or(Marker, Marker)

    public enum Operand: Sendable, Hashable {
        case variable(String)
        case literal(String)
    }

    public init(parsing input: String) throws {
        var parser = MarkerParser(text: input)
        self = try parser.parseOr()
        parser.skipSpace()
        guard parser.atEnd else { throw PipError.invalidMarker(input, "unexpected '\(parser.rest)'") }
    }

    /// Whether the marker holds in `environment` with `extras` active (`extra == "x"` holds when x is one).
    public func evaluate(_ environment: MarkerEnvironment, extras: Set<String> = []) -> Bool {
        switch self {
        case let .and(a, b): return a.evaluate(environment, extras: extras) && b.evaluate(environment, extras: extras)
        case let .or(a, b): return a.evaluate(environment, extras: extras) || b.evaluate(environment, extras: extras)
        case let .compare(lhs, op, rhs):
            // `extra` compares normalized names, against each active extra.
            if case .variable("extra") = lhs, case let .literal(value) = rhs {
                let wanted = normalizeName(value)
                return op == "==" ? extras.contains(wanted) : op == "!=" ? !extras.contains(wanted) : false
            }
            if case .variable("extra") = rhs, case let .literal(value) = lhs, op == "in" || op == "not in" {
                let found = extras.contains { value.contains($0) }
                return op == "in" ? found : !found
            }
            let left = Self.value(lhs, environment), right = Self.value(rhs, environment)
            return Self.compare(left, op, right)
        }
    }

    static func value(_ operand: Operand, _ environment: MarkerEnvironment) -> String {
        switch operand {
        case let .literal(text): return text
        case .variable("extra"): return ""
        case let .variable(name): return environment.values[name] ?? ""
        }
    }

    /// PEP 508: a version comparison when both sides are PEP 440 versions, else Python string comparison.
    static func compare(_ left: String, _ op: String, _ right: String) -> Bool {
        switch op {
        case "in": return right.contains(left)
        case "not in": return !right.contains(left)
        default: break
        }
        if let specifiers = try? VersionSpecifiers(parsing: op + right), let version = try? PythonVersion(left) {
            return specifiers.contains(version, prereleases: true)
        }
        switch op {
        case "==", "===": return left == right
        case "!=": return left != right
        case "<": return left < right
        case "<=": return left <= right
        case ">": return left > right
        case ">=": return left >= right
        default: return false
        }
    }

    public var description: String {
        switch self {
        case let .and(a, b): return "(\(a) and \(b))"
        case let .or(a, b): return "(\(a) or \(b))"
        case let .compare(lhs, op, rhs): return "\(Self.text(lhs)) \(op) \(Self.text(rhs))"
        }
    }

    static func text(_ operand: Operand) -> String {
        switch operand {
        case let .variable(name): return name
        case let .literal(value): return "\"\(value)\""
        }
    }
}

struct MarkerParser {
    let text: String
    var index: String.Index

    init(text: String) {
        self.text = text
        index = text.startIndex
    }

    var atEnd: Bool { index == text.endIndex }
    var rest: Substring { text[index...] }

    mutating func skipSpace() { while !atEnd, text[index].isWhitespace { index = text.index(after: index) } }

    /// Consumes `word` when it comes next as a whole word.
    mutating func keyword(_ word: String) -> Bool {
        skipSpace()
        guard rest.hasPrefix(word) else { return false }
        let end = text.index(index, offsetBy: word.count)
        if end < text.endIndex, text[end].isLetter || text[end] == "_" { return false }
        index = end
        return true
    }

    mutating func parseOr() throws -> Marker {
        var result = try parseAnd()
        while keyword("or") { result = .or(result, try parseAnd()) }
        return result
    }

    mutating func parseAnd() throws -> Marker {
        var result = try parseAtom()
        while keyword("and") { result = .and(result, try parseAtom()) }
        return result
    }

    mutating func parseAtom() throws -> Marker {
        skipSpace()
        if !atEnd, text[index] == "(" {
            index = text.index(after: index)
            let inner = try parseOr()
            skipSpace()
            guard !atEnd, text[index] == ")" else { throw PipError.invalidMarker(text, "'(' has no closing ')'") }
            index = text.index(after: index)
            return inner
        }
        let lhs = try operand()
        let op = try comparison()
        let rhs = try operand()
        return .compare(lhs: lhs, op: op, rhs: rhs)
    }

    static let variables: Set<String> = [
        "python_version", "python_full_version", "os_name", "sys_platform", "platform_release", "platform_system",
        "platform_version", "platform_machine", "platform_python_implementation", "implementation_name",
        "implementation_version", "extra",
    ]

    mutating func operand() throws -> Marker.Operand {
        skipSpace()
        guard !atEnd else { throw PipError.invalidMarker(text, "it ends where a value was expected") }
        let quote = text[index]
        if quote == "'" || quote == "\"" {
            let start = text.index(after: index)
            guard let end = text[start...].firstIndex(of: quote) else {
                throw PipError.invalidMarker(text, "a string has no closing quote")
            }
            index = text.index(after: end)
            return .literal(String(text[start..<end]))
        }
        let word = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
        // `os.name`-style legacy spellings map onto their PEP 508 names.
        let name = word.replacingOccurrences(of: ".", with: "_")
        guard Self.variables.contains(name) else {
            throw PipError.invalidMarker(text, word.isEmpty ? "expected a value at '\(rest)'" : "unknown marker variable '\(word)'")
        }
        index = text.index(index, offsetBy: word.count)
        return .variable(name)
    }

    mutating func comparison() throws -> String {
        skipSpace()
        for op in ["===", "==", "!=", "<=", ">=", "~=", "<", ">"] where rest.hasPrefix(op) {
            index = text.index(index, offsetBy: op.count)
            return op
        }
        if keyword("in") { return "in" }
        if keyword("not") {
            guard keyword("in") else { throw PipError.invalidMarker(text, "'not' must be followed by 'in'") }
            return "not in"
        }
        throw PipError.invalidMarker(text, "expected a comparison at '\(rest)'")
    }
}
