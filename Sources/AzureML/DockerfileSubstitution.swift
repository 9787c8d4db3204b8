/// Variables as one instruction sees them.
struct VariableScope {
    /// Known values.
    var values: [String: String]
    /// Names known to be unset: ARGs declared without a default.
    var unset: Set<String>
    /// Whether any other name is unset too (FROM's scope, a scratch base), rather than unknown.
    var othersUnset: Bool

    /// The ARGs BuildKit sets from the build and target platforms.
    static let automatic: Set<String> = ["TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
                                         "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT"]

    /// The value of `name`, nil when unset; throws when Docker would know it and Kiln does not.
    func value(_ name: String) throws -> String? {
        if let value = values[name] { return value }
        if Self.automatic.contains(name) { throw SubstitutionError.automatic(name) }
        let special = name.unicodeScalars.allSatisfy { ("0"..."9").contains($0) } || ["@", "*", "#", "?", "-", "$", "!"].contains(name)
        if unset.contains(name) || othersUnset || special { return nil }
        throw SubstitutionError.unknown(name)
    }
}

/// Why a word could not be substituted.
enum SubstitutionError: Error {
    /// Malformed text, with Docker's message.
    case syntax(String)
    /// A variable that may come from the base image.
    case unknown(String)
    /// One of the automatic platform ARGs.
    case automatic(String)
}

/// Docker's variable substitution and quote removal (BuildKit's `shell.Lex`): `$x`, `${x}`,
/// `${x:-word}`, `${x-word}`, `${x:+word}`, `${x+word}`, `${x:?message}`, `${x#pattern}`, `${x%pattern}`
/// (and `##`, `%%`), single and double quotes, and the escape character.
struct ShellLexer {
    let escape: Unicode.Scalar

    func word(_ text: String, scope: VariableScope) throws -> String {
        var scanner = ShellScanner(scalars: Array(text.unicodeScalars), escape: escape, scope: scope)
        return try scanner.process(until: nil, rawEscapes: false).text
    }

    /// `word`, except that a plain `$x` or `${x}` the scope does not know is kept as `${x}`, for the base
    /// image's environment to fill in when the image is built; the names so kept are returned too.
    func wordReferringToBase(_ text: String, scope: VariableScope) throws -> (text: String, base: Set<String>) {
        var scanner = ShellScanner(scalars: Array(text.unicodeScalars), escape: escape, scope: scope)
        scanner.keepsBaseReferences = true
        let text = try scanner.process(until: nil, rawEscapes: false).text
        return (text, scanner.baseReferences)
    }

    func words(_ text: String, scope: VariableScope) throws -> [String] {
        var scanner = ShellScanner(scalars: Array(text.unicodeScalars), escape: escape, scope: scope)
        return try scanner.process(until: nil, rawEscapes: false).words
    }
}

/// The scanning state of `ShellLexer`, a port of BuildKit's `shellWord`.
struct ShellScanner {
    let scalars: [Unicode.Scalar]
    var position = 0
    let escape: Unicode.Scalar
    let scope: VariableScope
    /// Inside a `${x:-word}` word, whose unknown variables matter only if the word is used.
    var deferring = 0
    var deferredUnknown: String?
    /// Whether an unknown plain reference is kept as `${x}` (see `ShellLexer.wordReferringToBase`).
    var keepsBaseReferences = false
    var baseReferences: Set<String> = []

    init(scalars: [Unicode.Scalar], escape: Unicode.Scalar, scope: VariableScope) {
        self.scalars = scalars
        self.escape = escape
        self.scope = scope
    }

    func peek() -> Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

    mutating func next() -> Unicode.Scalar? {
        guard position < scalars.count else { return nil }
        position += 1
        return scalars[position - 1]
    }

    /// Words as the shell would split them: substituted text splits on blanks, quoted text does not.
    struct Words {
        var buffer = String.UnicodeScalarView()
        var words: [String] = []
        var inWord = false

        mutating func add(_ scalar: Unicode.Scalar) {
            if scalar.properties.isWhitespace {
                if inWord, !buffer.isEmpty {
                    words.append(String(buffer))
                    buffer = String.UnicodeScalarView()
                    inWord = false
                }
            } else {
                addRaw(scalar)
            }
        }

        mutating func addRaw(_ scalar: Unicode.Scalar) {
            buffer.append(scalar)
            inWord = true
        }

        mutating func finish() -> [String] {
            if !buffer.isEmpty { words.append(String(buffer)) }
            return words
        }
    }

    mutating func process(until stop: Unicode.Scalar?, rawEscapes: Bool) throws -> (text: String, words: [String]) {
        var result = String.UnicodeScalarView()
        var words = Words()
        while let scalar = peek() {
            if let stop, scalar == stop {
                position += 1
                return (String(result), words.finish())
            }
            switch scalar {
            case "$":
                let value = try dollar()
                result.append(contentsOf: value.unicodeScalars)
                value.unicodeScalars.forEach { words.add($0) }
            case "'", "\"":
                let value = scalar == "'" ? try singleQuoted() : try doubleQuoted()
                result.append(contentsOf: value.unicodeScalars)
                value.unicodeScalars.forEach { words.addRaw($0) }
                words.inWord = true
            default:
                position += 1
                var character = scalar
                if scalar == escape {
                    if rawEscapes {
                        words.addRaw(scalar)
                        result.append(scalar)
                    }
                    guard let escaped = next() else { break }
                    character = escaped
                    words.addRaw(escaped)
                } else {
                    words.add(scalar)
                }
                result.append(character)
            }
        }
        if let stop { throw SubstitutionError.syntax("unexpected end of statement while looking for matching \(stop)") }
        return (String(result), words.finish())
    }

    /// `'…'`: everything literal up to the next single quote.
    mutating func singleQuoted() throws -> String {
        position += 1
        var result = String.UnicodeScalarView()
        while let scalar = next() {
            if scalar == "'" { return String(result) }
            result.append(scalar)
        }
        throw SubstitutionError.syntax("unexpected end of statement while looking for matching single-quote")
    }

    /// `"…"`: literal except `$` and the escape character before `"`, `$` or itself.
    mutating func doubleQuoted() throws -> String {
        position += 1
        var result = String.UnicodeScalarView()
        while let scalar = peek() {
            if scalar == "\"" {
                position += 1
                return String(result)
            }
            if scalar == "$" {
                result.append(contentsOf: try dollar().unicodeScalars)
                continue
            }
            position += 1
            var character = scalar
            if scalar == escape, let following = peek() {
                if following == "\"" || following == "$" || following == escape {
                    character = following
                    position += 1
                }
            } else if scalar == escape {
                continue
            }
            result.append(character)
        }
        throw SubstitutionError.syntax("unexpected end of statement while looking for matching double-quote")
    }

    /// A name after `$`: letters, digits and `_`; or digits; or one special parameter.
    mutating func name() -> String {
        var name = String.UnicodeScalarView()
        while let scalar = peek() {
            if name.isEmpty, ("0"..."9").contains(scalar) {
                while let digit = peek(), ("0"..."9").contains(digit) { name.append(digit); position += 1 }
                return String(name)
            }
            if name.isEmpty, "@*#?-$!".unicodeScalars.contains(scalar) {
                position += 1
                return String(scalar)
            }
            guard scalar.properties.isAlphabetic || scalar.properties.numericType == .decimal || scalar == "_" else { break }
            name.append(scalar)
            position += 1
        }
        return String(name)
    }

    /// The value of `name`; inside a modifier's word, an unknown name is noted rather than thrown.
    mutating func value(_ name: String) throws -> String? {
        do {
            return try scope.value(name)
        } catch SubstitutionError.unknown(let unknown) where deferring > 0 {
            deferredUnknown = deferredUnknown ?? unknown
            return nil
        }
    }

    /// A plain reference's value; an unknown one kept for the base image when allowed.
    mutating func plainValue(_ name: String) throws -> String {
        do {
            return try value(name) ?? ""
        } catch SubstitutionError.unknown(let unknown) where keepsBaseReferences && deferring == 0 {
            baseReferences.insert(unknown)
            return "${\(unknown)}"
        }
    }

    mutating func dollar() throws -> String {
        position += 1
        guard peek() == "{" else {
            let name = name()
            return name.isEmpty ? "$" : try plainValue(name)
        }
        position += 1
        switch peek() {
        case nil: throw SubstitutionError.syntax("syntax error: missing '}'")
        case "{", "}", ":": throw SubstitutionError.syntax("syntax error: bad substitution")
        default: break
        }
        let name = name()
        guard var modifier = next() else { throw SubstitutionError.syntax("syntax error: missing '}'") }
        var nullIsUnset = false
        if modifier == "}" { return try plainValue(name) }
        if modifier == ":" {
            nullIsUnset = true
            guard let following = next() else { throw SubstitutionError.syntax("syntax error: missing '}'") }
            modifier = following
        }
        guard "+-?#%".unicodeScalars.contains(modifier), !(nullIsUnset && (modifier == "#" || modifier == "%")) else {
            throw SubstitutionError.syntax("unsupported modifier (\(nullIsUnset ? ":" : "")\(modifier)) in substitution of \(name)")
        }
        let rawEscapes = modifier == "#" || modifier == "%"
        let outerUnknown = deferredUnknown
        deferredUnknown = nil
        deferring += 1
        let word: String
        do {
            word = try process(until: "}", rawEscapes: rawEscapes).text
        } catch SubstitutionError.syntax where peek() == nil {
            throw SubstitutionError.syntax("syntax error: missing '}'")
        }
        deferring -= 1
        let wordUnknown = deferredUnknown
        deferredUnknown = outerUnknown
        let value = try value(name)
        let empty = value == nil || (nullIsUnset && value == "")
        // The word's unknown variables matter only when the word is used.
        if let wordUnknown, modifier == "-" ? empty : modifier == "+" ? !empty : modifier != "?" || (empty && !word.isEmpty) {
            if deferring > 0 { deferredUnknown = deferredUnknown ?? wordUnknown } else { throw SubstitutionError.unknown(wordUnknown) }
        }
        switch modifier {
        case "-": return empty ? word : value ?? ""
        case "+": return empty ? "" : word
        case "?":
            guard !empty, let value else {
                throw SubstitutionError.syntax("\(name): \(word.isEmpty ? (value == nil ? "is not allowed to be unset" : "is not allowed to be empty") : word)")
            }
            return value
        default:
            return try Self.trim(value ?? "", pattern: word, suffix: modifier == "%")
        }
    }

    /// `${x#pattern}`/`${x%pattern}`: drops the shortest prefix or suffix matching `pattern`; a doubled
    /// `##`/`%%` drops the longest.
    static func trim(_ value: String, pattern: String, suffix: Bool) throws -> String {
        var pattern = Array(pattern.unicodeScalars)
        let marker: Unicode.Scalar = suffix ? "%" : "#"
        let longest = pattern.first == marker
        if longest { pattern.removeFirst() }
        let scalars = Array(value.unicodeScalars)
        var lengths = Array(0...scalars.count)
        if longest { lengths.reverse() }
        for length in lengths {
            let part = suffix ? scalars[(scalars.count - length)...] : scalars[..<length]
            if try Glob.matches(pattern[...], part) {
                let kept = suffix ? scalars[..<(scalars.count - length)] : scalars[length...]
                return String(String.UnicodeScalarView(kept))
            }
        }
        return value
    }
}
