import Foundation

/// A Dockerfile, read the way BuildKit's parser reads one, so that the steps AzureML users give
/// (`extraDockerfileSteps`, a v2 environment's `build:` context) mean what they mean to Docker.
///
/// Parsing is syntax only: parser directives, comments, line continuations, flags and the exec (JSON) or
/// shell form. What each instruction does, and which ones Kiln refuses, is `apply(to:context:allowFrom:)`.
public struct Dockerfile: Sendable, Equatable {
    /// The instructions, in file order.
    public var instructions: [Instruction]
    /// The file the instructions came from, for error messages.
    public var path: String
    /// The escape character: `\`, or the one a `# escape=` directive chose (`` ` ``).
    public var escape: Character
    /// The `# syntax=` directive's frontend image, if any.
    public var syntax: String?

    /// One instruction, with its arguments as written: variables are substituted when it is applied,
    /// since that depends on the ARG and ENV lines before it.
    public struct Instruction: Sendable, Equatable {
        /// The keyword, uppercased: `COPY`.
        public var keyword: String
        /// The `--name[=value]` flags before the arguments, in order.
        public var flags: [Flag]
        /// The arguments: a JSON array for the exec form, else the rest of the line.
        public var arguments: Arguments
        /// The 1-based line the instruction starts on.
        public var line: Int

        /// An instruction from its parts.
        public init(keyword: String, flags: [Flag] = [], arguments: Arguments, line: Int) {
            self.keyword = keyword
            self.flags = flags
            self.arguments = arguments
            self.line = line
        }
    }

    /// An instruction's arguments. Only CMD, ENTRYPOINT, RUN, SHELL, COPY, ADD and VOLUME have a JSON form;
    /// as in Docker, text that starts with `[` but is not valid JSON is the shell form.
    public enum Arguments: Sendable, Equatable {
        /// The exec form: `["python", "-m", "app"]`.
        case json([String])
        /// The shell form: the rest of the line, continuations joined, flags removed, quotes kept.
        case shell(String)
    }

    /// A builder flag such as `--chmod=755`, or `--link` with no value.
    public struct Flag: Sendable, Equatable {
        /// The name without dashes: `chmod`.
        public var name: String
        /// The text after `=`, quotes removed; nil for a bare `--name`.
        public var value: String?

        /// A flag from its name and value.
        public init(name: String, value: String?) {
            self.name = name
            self.value = value
        }
    }

    /// A Dockerfile from its parts.
    public init(instructions: [Instruction], path: String, escape: Character = "\\", syntax: String? = nil) {
        self.instructions = instructions
        self.path = path
        self.escape = escape
        self.syntax = syntax
    }

    /// Reads and parses the file at `path`.
    public static func load(_ path: String) throws -> Dockerfile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AzureMLError.missingFile("Dockerfile", path)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw AzureMLError.dockerfile(path: path, line: 0, message: "not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    /// Parses `text`; `path` names the file in errors. An empty file has no instructions, which is not
    /// an error here: whether a FROM is needed is for the caller to say.
    public static func parse(_ text: String, path: String) throws -> Dockerfile {
        var parser = DockerfileParser(path: path)
        return try parser.parse(text)
    }
}

/// The line-level rules of BuildKit's `parser.Parse`: directives at the top, comment lines dropped (also
/// inside continuations), a line ending in the escape character continued by the next, empty
/// continuation lines skipped.
struct DockerfileParser {
    let path: String
    var escape: Unicode.Scalar = "\\"
    var syntax: String?
    var directivesDone = false
    var seenDirectives: Set<String> = []

    init(path: String) { self.path = path }

    func fail(_ line: Int, _ message: String) -> AzureMLError {
        .dockerfile(path: path, line: line, message: message)
    }

    mutating func parse(_ text: String) throws -> Dockerfile {
        var lines = Self.lines(text)
        if let first = lines.first, first.first == "\u{FEFF}" { lines[0].removeFirst() }
        var instructions: [Dockerfile.Instruction] = []
        var index = 0
        while index < lines.count {
            let start = index + 1
            var line = try process(lines[index], number: start, stripLeading: true)
            index += 1
            var ended: Bool
            (line, ended) = trimContinuation(line)
            while !ended && index < lines.count {
                let raw = lines[index]
                let continued = try process(raw, number: index + 1, stripLeading: false)
                index += 1
                if Self.isComment(raw) || continued.allSatisfy(\.properties.isWhitespace) { continue }
                let part: [Unicode.Scalar]
                (part, ended) = trimContinuation(continued)
                line += part
            }
            // A continuation with nothing after it is no instruction.
            if line.allSatisfy(\.properties.isWhitespace) { continue }
            instructions.append(try instruction(line, line: start))
        }
        return Dockerfile(instructions: instructions, path: path, escape: Character(escape), syntax: syntax)
    }

    /// Splits on `\n` only, dropping a `\r` before it, as bufio's line scanner with `trimNewline` does.
    static func lines(_ text: String) -> [[Unicode.Scalar]] {
        var lines: [[Unicode.Scalar]] = [[]]
        for scalar in text.unicodeScalars {
            if scalar == "\n" { lines.append([]) } else { lines[lines.count - 1].append(scalar) }
        }
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines.map { line in
            var line = line
            while line.last == "\r" { line.removeLast() }
            return line
        }
    }

    static func isComment(_ line: [Unicode.Scalar]) -> Bool {
        line.first { !$0.properties.isWhitespace } == "#"
    }

    /// One physical line: leading space dropped on an instruction's first line, a parser directive
    /// noted while they are still allowed, a comment line emptied.
    mutating func process(_ raw: [Unicode.Scalar], number: Int, stripLeading: Bool) throws -> [Unicode.Scalar] {
        let token = stripLeading ? Array(raw.drop { $0.properties.isWhitespace }) : raw
        try directive(token, number: number)
        return token.first == "#" ? [] : token
    }

    /// `# name=value` before any instruction, blank line or other comment. Only `escape`, `syntax` and
    /// `check` are directives; anything else ends them and is a comment.
    mutating func directive(_ token: [Unicode.Scalar], number: Int) throws {
        guard !directivesDone else { return }
        guard token.first == "#" else { directivesDone = true; return }
        let body = String(String.UnicodeScalarView(token.dropFirst())).trimmingCharacters(in: .whitespaces)
        guard let equals = body.firstIndex(of: "="),
              let first = body.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic else {
            directivesDone = true
            return
        }
        let name = body[..<equals].trimmingCharacters(in: .whitespaces)
        let value = body[body.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        let key = name.lowercased()
        guard name.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) }),
              !value.isEmpty, ["escape", "syntax", "check"].contains(key) else {
            directivesDone = true
            return
        }
        guard seenDirectives.insert(key).inserted else {
            throw fail(number, "only one \(key) parser directive can be used")
        }
        switch key {
        case "escape":
            guard value == "\\" || value == "`", let scalar = value.unicodeScalars.first else {
                throw fail(number, "invalid escape directive '\(value)': the escape character must be \\ or `")
            }
            escape = scalar
        case "syntax":
            syntax = value
        default:
            break
        }
    }

    /// A line ending in the escape character (then spaces or tabs) continues on the next, unless that
    /// character is itself escaped. Returns the line without it, and whether the instruction ended.
    func trimContinuation(_ line: [Unicode.Scalar]) -> ([Unicode.Scalar], Bool) {
        var trimmed = line[...]
        while let last = trimmed.last, last == " " || last == "\t" { trimmed.removeLast() }
        guard trimmed.last == escape else { return (line, true) }
        let before = trimmed.dropLast()
        if let previous = before.last, previous == escape { return (line, true) }
        return (Array(before), false)
    }

    /// Splits a logical line into keyword, flags and arguments (BuildKit's `splitCommand`).
    func instruction(_ scalars: [Unicode.Scalar], line: Int) throws -> Dockerfile.Instruction {
        let text = String(String.UnicodeScalarView(scalars)).trimmingCharacters(in: .whitespacesAndNewlines)
        let all = Array(text.unicodeScalars)
        let split = all.firstIndex { Self.isBlank($0) } ?? all.endIndex
        let keyword = String(String.UnicodeScalarView(all[..<split])).uppercased()
        let rest = Array(all[split...].drop { Self.isBlank($0) })
        let (flagWords, remainder) = extractFlags(rest)
        let arguments = String(String.UnicodeScalarView(remainder)).trimmingCharacters(in: .whitespacesAndNewlines)
        let flags = flagWords.map { word -> Dockerfile.Flag in
            let body = word.dropFirst(2)
            guard let equals = body.firstIndex(of: "=") else { return Dockerfile.Flag(name: String(body), value: nil) }
            return Dockerfile.Flag(name: String(body[..<equals]), value: String(body[body.index(after: equals)...]))
        }
        return Dockerfile.Instruction(keyword: keyword, flags: flags,
                                      arguments: try form(of: arguments, keyword: keyword, line: line), line: line)
    }

    /// The whitespace BuildKit splits a line on (`[\t\v\f\r ]`).
    static func isBlank(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\u{0B}" || scalar == "\u{0C}" || scalar == "\r"
    }

    /// Leading words that start with `--` are flags, quotes and escapes removed; a bare `--` ends them.
    func extractFlags(_ rest: [Unicode.Scalar]) -> ([String], [Unicode.Scalar]) {
        var words: [String] = []
        var position = 0
        while position < rest.count {
            while position < rest.count, rest[position].properties.isWhitespace { position += 1 }
            guard position + 1 < rest.count, rest[position] == "-", rest[position + 1] == "-" else { break }
            var word = String.UnicodeScalarView()
            var quote: Unicode.Scalar?
            while position < rest.count {
                let scalar = rest[position]
                if let open = quote {
                    if scalar == open {
                        quote = nil
                    } else if scalar == escape, position + 1 < rest.count {
                        position += 1
                        word.append(rest[position])
                    } else if scalar != escape {
                        word.append(scalar)
                    }
                } else if scalar.properties.isWhitespace {
                    break
                } else if scalar == "'" || scalar == "\"" {
                    quote = scalar
                } else if scalar == escape {
                    if position + 1 < rest.count {
                        position += 1
                        word.append(rest[position])
                    }
                } else {
                    word.append(scalar)
                }
                position += 1
            }
            if String(word) == "--" { return (words, Array(rest[position...])) }
            words.append(String(word))
        }
        return (words, Array(rest[min(position, rest.count)...]))
    }

    /// The exec form for the instructions that have one, else the shell form. Heredocs are refused here,
    /// since their lines would otherwise be read as instructions.
    func form(of arguments: String, keyword: String, line: Int) throws -> Dockerfile.Arguments {
        let jsonKeywords: Set<String> = ["CMD", "ENTRYPOINT", "RUN", "SHELL", "COPY", "ADD", "VOLUME"]
        if jsonKeywords.contains(keyword) {
            switch Self.jsonForm(arguments) {
            case let .strings(strings): return .json(strings)
            case .notStrings: throw fail(line, "\(keyword): a JSON array must hold only strings")
            case .notJSON: break
            }
        }
        let heredocKeywords: Set<String> = ["RUN", "COPY", "ADD", "ONBUILD"]
        if heredocKeywords.contains(keyword), let marker = heredoc(in: arguments) {
            throw fail(line, "\(keyword) with a heredoc (\(marker)) is not supported: put the text in a file in the build context and COPY it")
        }
        return .shell(arguments)
    }

    /// A `<<NAME`, `<<-NAME` or `<< NAME` word outside quotes, as BuildKit's heredoc rule finds them.
    func heredoc(in arguments: String) -> String? {
        let words = Self.words(arguments, escape: escape)
        for (index, word) in words.enumerated() {
            let body = word.drop { $0.isASCII && $0.isNumber }
            guard body.hasPrefix("<<") else { continue }
            var name = body.dropFirst(2)
            if name.hasPrefix("-") { name = name.dropFirst() }
            if name.contains("<") { continue }
            if !name.isEmpty { return String(word) }
            if index + 1 < words.count { return "\(word) \(words[index + 1])" }
        }
        return nil
    }

    /// Whitespace-separated words with quotes and escapes kept in them (BuildKit's `parseWords`), as
    /// ENV, LABEL and ARG split their arguments before substitution.
    static func words(_ text: String, escape: Unicode.Scalar) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var words: [String] = []
        var word = String.UnicodeScalarView()
        var quote: Unicode.Scalar?
        var inWord = false
        var blankOK = false
        var position = 0
        while position < scalars.count {
            let scalar = scalars[position]
            if let open = quote {
                if scalar == open { quote = nil }
                if scalar == escape, open != "'" {
                    if position + 1 == scalars.count { quote = nil; position += 1; continue }
                    word.append(scalar)
                    position += 1
                    word.append(scalars[position])
                } else {
                    word.append(scalar)
                }
            } else if scalar.properties.isWhitespace {
                if inWord, blankOK || !word.isEmpty { words.append(String(word)) }
                word = String.UnicodeScalarView()
                inWord = false
                blankOK = false
            } else {
                inWord = true
                if scalar == "'" || scalar == "\"" {
                    quote = scalar
                    blankOK = true
                    word.append(scalar)
                } else if scalar == escape {
                    if position + 1 < scalars.count {
                        word.append(scalar)
                        position += 1
                        word.append(scalars[position])
                    }
                } else {
                    word.append(scalar)
                }
            }
            position += 1
        }
        if inWord, blankOK || !word.isEmpty { words.append(String(word)) }
        return words
    }

    /// What Go's `json.Decoder` makes of an instruction's arguments.
    enum JSONForm: Equatable {
        /// Not a JSON array: the shell form.
        case notJSON
        /// A JSON array with something other than strings in it, which Docker refuses.
        case notStrings
        /// A JSON array of strings: the exec form.
        case strings([String])
    }

    /// Decodes the JSON array `text` starts with. Text after the array is ignored, as Docker's decoder
    /// ignores it.
    static func jsonForm(_ text: String) -> JSONForm {
        let bytes = Array(text.drop { $0.isWhitespace }.utf8)
        guard bytes.first == UInt8(ascii: "["), let end = endOfArray(bytes),
              let parsed = try? JSONSerialization.jsonObject(with: Data(bytes[..<end]), options: [.fragmentsAllowed]),
              let array = parsed as? [Any] else { return .notJSON }
        var strings: [String] = []
        for element in array {
            guard !(element is NSNumber), let string = element as? String else { return .notStrings }
            strings.append(string)
        }
        return .strings(strings)
    }

    /// The byte just past the `]` that closes the array at the start of `bytes`, skipping strings.
    static func endOfArray(_ bytes: [UInt8]) -> Int? {
        var depth = 0
        var inString = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                if byte == UInt8(ascii: "\\") { index += 1 } else if byte == UInt8(ascii: "\"") { inString = false }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") {
                depth += 1
            } else if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") {
                depth -= 1
                if depth == 0 { return index + 1 }
            }
            index += 1
        }
        return nil
    }
}
