import Foundation
import Plan

extension Dockerfile {
    /// Applies the instructions that need no execution to `plan`, with Docker's semantics, and refuses
    /// the rest with a one-line error naming the file, the line and the instruction.
    ///
    /// `context` is the build context COPY and ADD read from. `allowFrom` says whether the file may name
    /// its base (a v2 environment's Dockerfile may; `extraDockerfileSteps` may not). Returns FROM's image,
    /// variables substituted, for the caller to resolve; nil when there is no FROM. The plan is left as
    /// it was when an error is thrown.
    ///
    /// Kiln reads no base image while planning, so what Docker would take from the base image's config
    /// is not known here: a variable this Dockerfile does not set, a relative WORKDIR or COPY destination
    /// before any absolute WORKDIR, are refused rather than guessed (except over `FROM scratch`).
    public func apply(to plan: inout BuildPlan, context: String, allowFrom: Bool) throws -> String? {
        var applier = DockerfileApplier(file: self, plan: plan, context: context, allowFrom: allowFrom)
        try applier.run()
        plan = applier.plan
        return applier.from
    }
}

/// The state Docker keeps while it builds one stage, for the instructions Kiln can carry out.
struct DockerfileApplier {
    let file: Dockerfile
    /// The escape character, for splitting and substituting words.
    let escape: Unicode.Scalar
    /// The build context, absolute.
    let context: String
    let allowFrom: Bool
    var plan: BuildPlan
    /// FROM's image, and the stage's name (`FROM image AS name`).
    var from: String?
    var stageName: String?
    /// False before the first FROM of a file that has one: only ARG may come there.
    var inStage: Bool
    /// The ARGs before FROM, which only FROM lines see.
    var global = VariableScope(values: [:], unset: [], othersUnset: true)
    /// What the stage's instructions substitute from: the plan's environment, then ENV and ARG lines.
    var stage: VariableScope
    /// The working directory, or nil while it is the base image's (unknown until the build).
    var workdir: String?
    /// Whether a CMD came before, so that ENTRYPOINT keeps it (Docker's `d.cmd.IsSet`).
    var cmdSet = false
    /// ENV names whose values still hold `${x}` for the base image to fill in.
    var basePending: Set<String> = []
    /// Image directories this Dockerfile made: WORKDIRs and COPY destinations.
    var directories: Set<String> = ["/"]
    /// Host directories copied so far and where they went, to tell whether a destination is one of
    /// their subdirectories.
    var copiedDirectories: [(source: String, destination: String)] = []
    var ignoreFileChecked = false

    /// Docker's PATH for an image that sets none (BuildKit's `system.DefaultPathEnv`).
    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    init(file: Dockerfile, plan: BuildPlan, context: String, allowFrom: Bool) {
        self.file = file
        escape = file.escape.unicodeScalars.first ?? "\\"
        self.plan = plan
        self.context = URL(fileURLWithPath: context).standardizedFileURL.path
        self.allowFrom = allowFrom
        inStage = !(allowFrom && file.instructions.contains { $0.keyword == "FROM" })
        var values: [String: String] = [:]
        for variable in plan.config.env { values[variable.key] = variable.value }
        stage = VariableScope(values: values, unset: [], othersUnset: false)
        workdir = plan.config.workingDir
        if let workdir { addDirectory(workdir) }
    }

    func fail(_ instruction: Dockerfile.Instruction, _ message: String) -> AzureMLError {
        .dockerfile(path: file.path, line: instruction.line, message: message)
    }

    mutating func run() throws {
        if let syntax = file.syntax, !Self.isDockerFrontend(syntax) {
            throw AzureMLError.dockerfile(path: file.path, line: 0,
                                          message: "# syntax=\(syntax) names a custom frontend: Kiln follows docker/dockerfile only")
        }
        for instruction in file.instructions {
            if !inStage, instruction.keyword != "ARG", instruction.keyword != "FROM" {
                throw fail(instruction, "\(instruction.keyword) comes before FROM: only ARG may come before the first FROM")
            }
            try apply(instruction)
        }
    }

    /// `docker/dockerfile[:tag]` and `docker/dockerfile-upstream`, with or without `docker.io/`.
    static func isDockerFrontend(_ syntax: String) -> Bool {
        var name = Substring(syntax.split(separator: "@").first ?? "")
        if name.hasPrefix("docker.io/") { name = name.dropFirst("docker.io/".count) }
        let repository = name.split(separator: ":").first ?? ""
        return repository == "docker/dockerfile" || repository == "docker/dockerfile-upstream"
    }

    mutating func apply(_ instruction: Dockerfile.Instruction) throws {
        func refuse(_ reason: String) -> AzureMLError { fail(instruction, "\(instruction.keyword) is not supported: \(reason)") }
        switch instruction.keyword {
        case "FROM": try applyFrom(instruction)
        case "ARG": try applyArg(instruction)
        case "ENV": try applyEnv(instruction)
        case "LABEL": try applyLabel(instruction)
        case "EXPOSE": try applyExpose(instruction)
        case "WORKDIR": try applyWorkdir(instruction)
        case "USER": try applyUser(instruction)
        case "CMD", "ENTRYPOINT": try applyCommand(instruction)
        case "COPY", "ADD": try applyCopy(instruction)
        case "RUN":
            throw refuse("Kiln runs no build steps (put what the step makes in the build context and COPY it, or list packages in the conda or pip environment)")
        case "SHELL":
            throw refuse("Kiln runs no build steps, and its config edits have no shell; write CMD and ENTRYPOINT in JSON form")
        case "VOLUME":
            throw refuse("Kiln's config edits have no volumes; mount one at run time instead")
        case "ONBUILD":
            throw refuse("Kiln's config edits have no build triggers")
        case "HEALTHCHECK":
            throw refuse("Kiln cannot carry its interval, timeout, start period and retries; remove it")
        case "STOPSIGNAL":
            throw refuse("Kiln's config edits have no stop signal; remove it (containers get SIGTERM)")
        case "MAINTAINER":
            throw refuse("Docker writes it to the image's author field, which Kiln does not set; use LABEL maintainer=\"…\" instead")
        default:
            throw fail(instruction, "unknown instruction \(instruction.keyword)")
        }
    }

    // MARK: Arguments, flags and substitution

    /// Refuses flags on an instruction that takes none (as Docker does: `CMD --version` is a flag).
    func refuseFlags(_ instruction: Dockerfile.Instruction) throws {
        if let flag = instruction.flags.first { throw fail(instruction, "\(instruction.keyword): unknown flag --\(flag.name)") }
    }

    /// The arguments as text. Only instructions with an exec form are parsed as JSON, so for the others
    /// this is always the shell form.
    func text(_ instruction: Dockerfile.Instruction) -> String {
        switch instruction.arguments {
        case let .shell(text): return text
        case let .json(array): return "[" + array.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        }
    }

    /// Words split on blanks with no regard for quotes (BuildKit's `parseStringsWhitespaceDelimited`).
    static func blankSeparated(_ text: String) -> [String] {
        text.unicodeScalars.split { DockerfileParser.isBlank($0) }.map { String(String.UnicodeScalarView($0)) }
    }

    /// `text` with variables substituted and quotes removed, as one word (BuildKit's `ProcessWord`).
    func word(_ text: String, _ instruction: Dockerfile.Instruction, global: Bool = false) throws -> String {
        try substituting(instruction) { try $0.word(text, scope: global ? self.global : stage) }
    }

    /// `text` substituted and split into words (BuildKit's `ProcessWords`).
    func words(_ text: String, _ instruction: Dockerfile.Instruction) throws -> [String] {
        try substituting(instruction) { try $0.words(text, scope: stage) }
    }

    func substituting<T>(_ instruction: Dockerfile.Instruction, _ body: (ShellLexer) throws -> T) throws -> T {
        do {
            return try body(ShellLexer(escape: escape))
        } catch let error as SubstitutionError {
            switch error {
            case let .syntax(message):
                throw fail(instruction, "\(instruction.keyword): \(message)")
            case let .unknown(name):
                // The base image's variables would be in scope here, but Kiln has not read the base image.
                throw fail(instruction, "\(instruction.keyword) uses $\(name), which this Dockerfile does not set, and Kiln does not read the base image's environment; write the value out, or set it with ENV or ARG first")
            case let .automatic(name):
                throw fail(instruction, "\(instruction.keyword) uses $\(name), which Docker sets from the build platform and Kiln does not; give the ARG a default")
            }
        }
    }

    /// `name=value` pairs, or the legacy `name value` (BuildKit's `parseNameVal`), not yet substituted.
    func pairs(_ instruction: Dockerfile.Instruction) throws -> [(String, String)] {
        let text = text(instruction)
        let words = DockerfileParser.words(text, escape: escape)
        guard let first = words.first else { throw fail(instruction, "\(instruction.keyword) requires at least one argument") }
        if !first.contains("=") {
            let scalars = Array(text.unicodeScalars)
            guard let blank = scalars.firstIndex(where: DockerfileParser.isBlank) else {
                throw fail(instruction, "\(instruction.keyword) must have two arguments (name value), or name=value pairs")
            }
            let value = scalars[blank...].drop(while: DockerfileParser.isBlank)
            return [(String(String.UnicodeScalarView(scalars[..<blank])), String(String.UnicodeScalarView(value)))]
        }
        return try words.map { word in
            guard let equals = word.firstIndex(of: "=") else {
                throw fail(instruction, "\(instruction.keyword): '\(word)' has no '=': write name=value")
            }
            return (String(word[..<equals]), String(word[word.index(after: equals)...]))
        }
    }

    // MARK: Instructions

    /// `FROM image [AS name]`: one stage only; the image is substituted from the ARGs before it.
    mutating func applyFrom(_ instruction: Dockerfile.Instruction) throws {
        guard allowFrom else {
            throw fail(instruction, "FROM is not allowed in these steps: they are added to the image whose base the config names")
        }
        guard from == nil else {
            throw fail(instruction, "a second FROM is not supported: Kiln builds one stage (no multi-stage builds)")
        }
        if instruction.flags.contains(where: { $0.name == "platform" }) {
            throw fail(instruction, "FROM --platform is not supported: choose the platform with Kiln's --platform option")
        }
        try refuseFlags(instruction)
        let arguments = Self.blankSeparated(text(instruction))
        if arguments.count == 3, arguments[1].lowercased() == "as" {
            let name = arguments[2].lowercased()
            guard let first = name.unicodeScalars.first, ("a"..."z").contains(first),
                  name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0) }) else {
                throw fail(instruction, "invalid name for build stage '\(arguments[2])': it must start with a letter and hold only letters, digits, '-', '_' and '.'")
            }
            stageName = name
        } else if arguments.count != 1 {
            throw fail(instruction, "FROM requires either one or three arguments: FROM image [AS name]")
        }
        let image = try word(arguments[0], instruction, global: true)
        guard !image.isEmpty else { throw fail(instruction, "FROM: '\(arguments[0])' is empty once substituted") }
        from = image
        inStage = true
        if image == "scratch" {
            // Over scratch nothing is inherited, so every variable is known; Docker gives the image a PATH.
            stage.othersUnset = true
            workdir = workdir ?? "/"
            if stage.values["PATH"] == nil {
                plan.config.setEnv("PATH", Self.defaultPath)
                stage.values["PATH"] = Self.defaultPath
            }
        }
    }

    /// `ARG name[=default]`: build-args are not passed, so an ARG has its default, or the value of the
    /// ARG of that name before FROM. Each default sees the ARGs before it on the line.
    mutating func applyArg(_ instruction: Dockerfile.Instruction) throws {
        try refuseFlags(instruction)
        let words = DockerfileParser.words(text(instruction), escape: escape)
        guard !words.isEmpty else { throw fail(instruction, "ARG requires at least one argument") }
        for word in words {
            let equals = word.firstIndex(of: "=")
            let name = String(word[..<(equals ?? word.endIndex)])
            guard !name.isEmpty else { throw fail(instruction, "ARG names can not be blank") }
            let value = try equals.map { try self.word(String(word[word.index(after: $0)...]), instruction, global: !inStage) }
            if !inStage {
                if let value { global.values[name] = value } else { global.unset.insert(name) }
            } else if let value = value ?? global.values[name] {
                stage.values[name] = value
            } else if !VariableScope.automatic.contains(name), stage.values[name] == nil {
                stage.unset.insert(name)
            }
        }
    }

    /// `ENV name=value ...` or `ENV name value`: every value is substituted before any is set, as in Docker.
    /// `ENV name=value ...`. A value may use the base image's variables (`PATH=/opt/bin:$PATH`): Kiln has
    /// not read the base when planning, so such a reference stays `${PATH}` and the build fills it in from
    /// the base image's config (`ConfigEdits.baseReferences`).
    mutating func applyEnv(_ instruction: Dockerfile.Instruction) throws {
        try refuseFlags(instruction)
        let pairs = try pairs(instruction).map { pair -> (String, String, Bool) in
            let value = try substituting(instruction) { try $0.wordReferringToBase(pair.1, scope: stage) }
            // A value built from one that waits for the base waits too.
            let waits = !value.base.isEmpty || basePending.contains { pair.1.contains("$\($0)") || pair.1.contains("${\($0)") }
            return (try word(pair.0, instruction), value.text, waits)
        }
        for (name, value, waits) in pairs {
            guard !name.isEmpty else { throw fail(instruction, "ENV names can not be blank") }
            plan.config.setEnv(name, value)
            if waits { plan.config.baseReferences.insert(name); basePending.insert(name) } else {
                plan.config.baseReferences.remove(name)
                basePending.remove(name)
            }
            stage.values[name] = value
            stage.unset.remove(name)
        }
    }

    /// `LABEL key=value ...`, quotes removed and variables substituted.
    mutating func applyLabel(_ instruction: Dockerfile.Instruction) throws {
        try refuseFlags(instruction)
        let pairs = try pairs(instruction).map { (try word($0.0, instruction), try word($0.1, instruction)) }
        for (key, value) in pairs {
            guard !key.isEmpty else { throw fail(instruction, "LABEL names can not be blank") }
            plan.config.labels[key] = value
        }
    }

    /// `EXPOSE 80 8080/udp 9000-9002`: a range exposes each port; the protocol is tcp, udp or sctp.
    mutating func applyExpose(_ instruction: Dockerfile.Instruction) throws {
        try refuseFlags(instruction)
        var ports: [String] = []
        for argument in Self.blankSeparated(text(instruction)) { ports += try words(argument, instruction) }
        guard !ports.isEmpty else { throw fail(instruction, "EXPOSE requires at least one argument") }
        for port in ports {
            guard let expanded = Self.ports(port) else {
                throw fail(instruction, "EXPOSE '\(port)': expected PORT[/tcp|udp|sctp] or FIRST-LAST[/PROTOCOL], ports 0-65535")
            }
            for port in expanded where !plan.config.exposedPorts.contains(port) { plan.config.exposedPorts.append(port) }
        }
    }

    /// `80` → `["80/tcp"]`, `90-91/UDP` → `["90/udp", "91/udp"]`; nil when malformed.
    static func ports(_ text: String) -> [String]? {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let proto = parts.count == 2 ? parts[1].lowercased() : "tcp"
        guard ["tcp", "udp", "sctp"].contains(proto), !parts[0].contains(":") else { return nil }
        let range = parts[0].split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        func number(_ text: Substring) -> Int? {
            guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(text), value <= 65535 else { return nil }
            return value
        }
        guard let first = number(range[0]) else { return nil }
        let last = range.count == 2 ? number(range[1]) : first
        guard let last, last >= first else { return nil }
        return (first...last).map { "\($0)/\(proto)" }
    }

    /// `WORKDIR path`, relative to the previous one. Docker also creates the directory; Kiln does not, and
    /// runtimes create a missing working directory when the container starts.
    mutating func applyWorkdir(_ instruction: Dockerfile.Instruction) throws {
        try refuseFlags(instruction)
        let raw = text(instruction)
        guard !raw.isEmpty else { throw fail(instruction, "WORKDIR requires exactly one argument") }
        let path = try word(raw, instruction)
        guard !path.isEmpty else { throw fail(instruction, "WORKDIR: '\(raw)' is empty once substituted") }
        let resolved = try imagePath(path, instruction, what: "WORKDIR '\(path)'")
        plan.config.workingDir = resolved
        workdir = resolved
        addDirectory(resolved)
    }

    /// `USER name[:group]`, substituted.
    mutating func applyUser(_ instruction: Dockerfile.Instruction) throws {
        try refuseFlags(instruction)
        let raw = text(instruction)
        guard !raw.isEmpty else { throw fail(instruction, "USER requires exactly one argument") }
        let user = try word(raw, instruction)
        guard !user.isEmpty else { throw fail(instruction, "USER: '\(raw)' is empty once substituted") }
        plan.config.user = user
    }

    /// `CMD`/`ENTRYPOINT` in exec form as written, or shell form run by `/bin/sh -c` (a base image's own
    /// SHELL is not known here). An ENTRYPOINT drops the base's cmd unless a CMD came before it.
    mutating func applyCommand(_ instruction: Dockerfile.Instruction) throws {
        try refuseFlags(instruction)
        let command: [String]
        switch instruction.arguments {
        case let .json(array): command = array
        case let .shell(text):
            guard !text.isEmpty else { throw fail(instruction, "\(instruction.keyword) requires at least one argument") }
            command = ["/bin/sh", "-c", text]
        }
        if instruction.keyword == "CMD" {
            plan.config.cmd = command
            cmdSet = true
        } else {
            plan.config.entrypoint = command
            if !cmdSet { plan.config.cmd = nil }
        }
    }

    // MARK: Image paths

    /// An absolute, clean image path: relative ones go under the working directory. `..` stops at `/`,
    /// as in Docker.
    func imagePath(_ path: String, _ instruction: Dockerfile.Instruction, what: String) throws -> String {
        var full = path
        if !path.hasPrefix("/") {
            guard let workdir else {
                throw fail(instruction, "\(what) is relative, and the base image's working directory is not known before the build; make it absolute, or set an absolute WORKDIR first")
            }
            full = workdir + "/" + path
        }
        var parts: [Substring] = []
        for part in full.split(separator: "/") where part != "." {
            if part == ".." { _ = parts.popLast() } else { parts.append(part) }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Notes `path` and its parents as directories this Dockerfile made.
    mutating func addDirectory(_ path: String) {
        var path = Substring(path)
        while !path.isEmpty, directories.insert(String(path)).inserted {
            guard let slash = path.lastIndex(of: "/") else { break }
            path = slash == path.startIndex ? "/" : path[..<slash]
        }
    }

    /// Whether `path` is a directory this Dockerfile made, or a subdirectory of a copied one. Whether it
    /// is a directory in the base image is not known here.
    func isDirectory(_ path: String) -> Bool {
        if directories.contains(path) { return true }
        return copiedDirectories.contains { copied in
            let prefix = copied.destination == "/" ? "/" : copied.destination + "/"
            guard path.utf8.starts(with: prefix.utf8) else { return false }
            let below = String(decoding: path.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
            return HostFile.kind(copied.source + "/" + below, follow: true) == .directory
        }
    }
}
