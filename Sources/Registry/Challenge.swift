/// One `WWW-Authenticate` challenge (RFC 7235): a scheme and its parameters.
public struct Challenge: Sendable, Equatable {
    public var scheme: String
    public var parameters: [String: String]

    public var realm: String? { parameters["realm"] }
    public var service: String? { parameters["service"] }
    public var scope: String? { parameters["scope"] }
    public var error: String? { parameters["error"] }

    /// Parses every challenge in a header value. Quoted values may hold spaces and commas (a scope
    /// list does), so the value is tokenised, never split on spaces or commas blindly.
    public static func parse(_ header: String) -> [Challenge] {
        var challenges: [Challenge] = []
        var scanner = Scanner(Array(header.utf8))
        while true {
            scanner.skip { $0 == 0x20 || $0 == 0x2c || $0 == 0x09 }
            guard let scheme = scanner.token(), !scheme.isEmpty else { break }
            var challenge = Challenge(scheme: scheme.lowercased(), parameters: [:])
            while true {
                let mark = scanner.position
                scanner.skip { $0 == 0x20 || $0 == 0x09 || $0 == 0x2c }
                guard let name = scanner.token(), scanner.peek == 0x3d else {
                    scanner.position = mark
                    break
                }
                scanner.position += 1
                let value = scanner.peek == 0x22 ? scanner.quoted() : (scanner.token() ?? "")
                challenge.parameters[name.lowercased()] = value
            }
            challenges.append(challenge)
        }
        return challenges
    }

    struct Scanner {
        let bytes: [UInt8]
        var position = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skip(_ predicate: (UInt8) -> Bool) {
            while let byte = peek, predicate(byte) { position += 1 }
        }

        /// An RFC 7230 token (letters, digits and `!#$%&'*+-.^_`|~`), plus `/` and `:` that realms without quotes use.
        mutating func token() -> String? {
            let start = position
            skip { byte in
                byte > 0x20 && byte < 0x7f && byte != 0x2c && byte != 0x3d && byte != 0x22 && byte != 0x3b
            }
            return position > start ? String(decoding: bytes[start..<position], as: UTF8.self) : nil
        }

        mutating func quoted() -> String {
            position += 1
            var value: [UInt8] = []
            while let byte = peek {
                position += 1
                if byte == 0x5c, let escaped = peek {
                    value.append(escaped)
                    position += 1
                } else if byte == 0x22 {
                    break
                } else {
                    value.append(byte)
                }
            }
            return String(decoding: value, as: UTF8.self)
        }
    }
}

/// A registry access scope, `repository:NAME:pull,push`.
public struct Scope: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var type: String
    public var name: String
    public var actions: [String]

    public init(type: String = "repository", name: String, actions: [String]) {
        self.type = type
        self.name = name
        self.actions = Array(Set(actions)).sorted()
    }

    /// Splits at the first and last `:`, since names may hold `host:port`.
    public init?(parsing text: String) {
        guard let first = text.firstIndex(of: ":"), let last = text.lastIndex(of: ":"), first < last else { return nil }
        self.init(type: String(text[..<first]), name: String(text[text.index(after: first)..<last]),
                  actions: text[text.index(after: last)...].split(separator: ",").map(String.init))
    }

    public var description: String { "\(type):\(name):\(actions.joined(separator: ","))" }

    public static func < (lhs: Scope, rhs: Scope) -> Bool { lhs.description < rhs.description }

    public static func pull(_ repository: String) -> Scope { Scope(name: repository, actions: ["pull"]) }
    public static func push(_ repository: String) -> Scope { Scope(name: repository, actions: ["pull", "push"]) }

    /// Whether this scope grants everything `other` asks for.
    public func covers(_ other: Scope) -> Bool {
        type == other.type && name == other.name && Set(other.actions).isSubset(of: actions)
    }
}
