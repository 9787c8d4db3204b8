/// Go's `filepath.Match` for one path component: `*`, `?`, `[a-z]`, `[^a]`, and `\` before a literal.
enum Glob {
    struct BadPattern: Error {}

    /// Whether the component has a wildcard (an escaped character is not one).
    static func hasWildcard(_ component: Substring) -> Bool {
        var escaped = false
        for character in component {
            if escaped { escaped = false; continue }
            if character == "\\" { escaped = true } else if "*?[".contains(character) { return true }
        }
        return false
    }

    static func matches(_ pattern: ArraySlice<Unicode.Scalar>, _ name: ArraySlice<Unicode.Scalar>) throws -> Bool {
        var pattern = pattern
        var name = name
        while let token = pattern.first {
            switch token {
            case "*":
                while pattern.first == "*" { pattern = pattern.dropFirst() }
                if pattern.isEmpty { return true }
                var rest = name
                while true {
                    if try matches(pattern, rest) { return true }
                    guard !rest.isEmpty else { return false }
                    rest = rest.dropFirst()
                }
            case "?":
                guard !name.isEmpty else { return false }
                pattern = pattern.dropFirst()
                name = name.dropFirst()
            case "[":
                let (matched, rest) = try characterClass(pattern.dropFirst(), name.first)
                guard matched, !name.isEmpty else { return false }
                pattern = rest
                name = name.dropFirst()
            default:
                var literal = token
                pattern = pattern.dropFirst()
                if token == "\\" {
                    guard let escaped = pattern.first else { throw BadPattern() }
                    literal = escaped
                    pattern = pattern.dropFirst()
                }
                guard name.first == literal else { return false }
                name = name.dropFirst()
            }
        }
        return name.isEmpty
    }

    /// Matches `scalar` against the class after `[`; returns the pattern after `]`.
    static func characterClass(_ pattern: ArraySlice<Unicode.Scalar>, _ scalar: Unicode.Scalar?) throws -> (Bool, ArraySlice<Unicode.Scalar>) {
        var pattern = pattern
        let negated = pattern.first == "^"
        if negated { pattern = pattern.dropFirst() }
        var matched = false
        var ranges = 0
        func character() throws -> Unicode.Scalar {
            guard var first = pattern.first, first != "-", first != "]" else { throw BadPattern() }
            pattern = pattern.dropFirst()
            if first == "\\" {
                guard let escaped = pattern.first else { throw BadPattern() }
                first = escaped
                pattern = pattern.dropFirst()
            }
            return first
        }
        while true {
            if pattern.first == "]", ranges > 0 {
                pattern = pattern.dropFirst()
                break
            }
            let low = try character()
            var high = low
            if pattern.first == "-" {
                pattern = pattern.dropFirst()
                high = try character()
            }
            if let scalar, low <= scalar, scalar <= high { matched = true }
            ranges += 1
        }
        return (matched != negated, pattern)
    }
}
