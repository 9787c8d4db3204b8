import Foundation
import Plan
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// COPY and ADD from the build context, with Docker's rules: sources relative to the context and kept
/// inside it, wildcards, a directory's contents, the destination relative to WORKDIR and a directory
/// when it ends in `/` or there are several sources. Each becomes one `.files` layer.
extension DockerfileApplier {
    mutating func applyCopy(_ instruction: Dockerfile.Instruction) throws {
        let keyword = instruction.keyword
        let isAdd = keyword == "ADD"
        let unpack = try copyFlags(instruction, isAdd: isAdd)
        let arguments: [String]
        switch instruction.arguments {
        case let .json(array): arguments = array
        case let .shell(text): arguments = Self.blankSeparated(text)
        }
        guard arguments.count >= 2 else {
            throw fail(instruction, "\(keyword) requires at least two arguments: sources, then a destination")
        }
        let expanded = try arguments.map { try word($0, instruction) }
        let sources = Array(expanded.dropLast())
        let destination = expanded[expanded.count - 1]
        for source in sources where source.contains("://") || source.hasPrefix("git@") {
            throw fail(instruction, "\(keyword) '\(source)' is remote: Kiln copies only from the build context; download it there first")
        }
        try checkIgnoreFile(instruction)

        var matches: [String] = []
        for source in sources {
            let relative = try contextRelative(source, instruction)
            if relative.split(separator: "/").contains(where: Glob.hasWildcard) {
                matches += try wildcardMatches(relative, instruction)
            } else {
                guard HostFile.kind(hostPath(relative), follow: false) != .missing else {
                    throw fail(instruction, "\(keyword) '\(source)': not found in the build context \(context)")
                }
                matches.append(relative)
            }
        }
        guard !matches.isEmpty else {
            throw fail(instruction, "\(keyword): nothing in the build context \(context) matches \(sources.joined(separator: " "))")
        }

        let target = try imagePath(destination.isEmpty ? "." : destination, instruction,
                                   what: "\(keyword) destination '\(destination)'")
        // A destination that is a directory in the base image is not known here: write the trailing '/'.
        let intoDirectory = destination.hasSuffix("/") || destination.hasSuffix("/.") || destination == "." || destination.isEmpty
            || isDirectory(target)
        if (sources.count > 1 || matches.count > 1) && !intoDirectory {
            throw fail(instruction, "\(keyword) with more than one source needs a directory destination ending in '/', not '\(destination)'")
        }

        var inputs: [LayerInput] = []
        for relative in matches {
            let source = try checkedSource(relative, instruction)
            let kind = HostFile.kind(source, follow: true)
            if kind == .directory {
                let input = LayerInput(source: source, destination: target)
                if !inputs.contains(input) { inputs.append(input) }
                copiedDirectories.append((source, target))
                addDirectory(target)
                continue
            }
            if isAdd, unpack, let format = HostFile.archiveFormat(source) {
                throw fail(instruction, "ADD '\(relative)' is a \(format) archive, which Docker would extract and Kiln does not: extract it into the build context and COPY the folder, or COPY it to keep the archive")
            }
            let input: LayerInput
            if intoDirectory {
                input = LayerInput(source: source, destination: target == "/" ? "/" : target + "/")
                addDirectory(target)
            } else {
                input = LayerInput(source: source, destination: target)
                addDirectory(String(target[..<(target.lastIndex(of: "/") ?? target.startIndex)]))
            }
            // A later source with the same file name replaces an earlier one, as in Docker.
            inputs.removeAll { Self.filePath(of: $0) == Self.filePath(of: input) }
            inputs.append(input)
        }
        let description = ([keyword] + sources + [destination]).joined(separator: " ")
        plan.layers.append(LayerSpec(kind: .files, description: description, inputs: inputs))
    }

    /// Where a file input lands: its destination, or the source's name inside it for one ending in `/`.
    static func filePath(of input: LayerInput) -> String {
        guard input.destination.hasSuffix("/") else { return input.destination }
        return input.destination + (input.source.split(separator: "/").last.map(String.init) ?? "")
    }

    /// COPY and ADD take `--link` (a Kiln layer is independent anyway) and ADD `--unpack`; the rest are
    /// refused. Returns whether ADD extracts archives (it does unless `--unpack=false`).
    func copyFlags(_ instruction: Dockerfile.Instruction, isAdd: Bool) throws -> Bool {
        let keyword = instruction.keyword
        var unpack = true
        for flag in instruction.flags {
            switch flag.name {
            case "chown":
                throw fail(instruction, "\(keyword) --chown is not supported: Kiln writes files owned by root, as \(keyword) does without it")
            case "chmod":
                throw fail(instruction, "\(keyword) --chmod is not supported: Kiln writes mode 0755 for directories and executables, 0644 for other files")
            case "from" where flag.value?.lowercased() == stageName && stageName != nil:
                throw fail(instruction, "\(keyword) --from=\(flag.value ?? "") copies from a build stage: Kiln builds one stage (no multi-stage builds)")
            case "from":
                throw fail(instruction, "\(keyword) --from is not supported: Kiln builds one stage and copies only from the build context")
            case "exclude", "parents":
                throw fail(instruction, "\(keyword) --\(flag.name) is not supported")
            case "checksum" where isAdd, "keep-git-dir" where isAdd:
                throw fail(instruction, "ADD --\(flag.name) is not supported: it is for remote sources, which Kiln does not fetch")
            case "link":
                _ = try boolean(flag, instruction)
            case "unpack" where isAdd:
                unpack = try boolean(flag, instruction)
            default:
                throw fail(instruction, "\(keyword): unknown flag --\(flag.name)")
            }
        }
        return unpack
    }

    /// A boolean flag's value: bare means true.
    func boolean(_ flag: Dockerfile.Flag, _ instruction: Dockerfile.Instruction) throws -> Bool {
        switch flag.value?.lowercased() {
        case nil, "true": return true
        case "false": return false
        default: throw fail(instruction, "\(instruction.keyword) --\(flag.name)=\(flag.value ?? ""): expected true or false")
        }
    }

    /// The source relative to the context root: `/` is the context's root, and `..` may not leave it.
    func contextRelative(_ source: String, _ instruction: Dockerfile.Instruction) throws -> String {
        var parts: [Substring] = []
        for part in source.split(separator: "/") where part != "." {
            if part == ".." {
                guard parts.popLast() != nil else {
                    throw fail(instruction, "\(instruction.keyword) '\(source)' is outside the build context \(context)")
                }
            } else {
                parts.append(part)
            }
        }
        return parts.joined(separator: "/")
    }

    func hostPath(_ relative: String) -> String { relative.isEmpty ? context : context + "/" + relative }

    /// The host path of a source that resolves, symlinks followed, inside the context.
    func checkedSource(_ relative: String, _ instruction: Dockerfile.Instruction) throws -> String {
        let path = hostPath(relative)
        guard let root = HostFile.realPath(context) else {
            throw fail(instruction, "\(instruction.keyword): the build context \(context) does not exist")
        }
        guard let real = HostFile.realPath(path) else {
            throw fail(instruction, "\(instruction.keyword) '\(relative)' is a symlink to nothing")
        }
        // Compared as bytes: two names that differ only in Unicode normalisation are different files.
        let inside = root == "/" ? "/" : root + "/"
        guard real.utf8.elementsEqual(root.utf8) || real.utf8.starts(with: inside.utf8) else {
            throw fail(instruction, "\(instruction.keyword) '\(relative)' is a symlink that leads outside the build context, to \(real)")
        }
        return path
    }

    /// The context paths a wildcard source matches, in byte order, each component matched as Go's
    /// `filepath.Match` does (a `*` matches a leading dot too); symlinked directories are not entered.
    func wildcardMatches(_ relative: String, _ instruction: Dockerfile.Instruction) throws -> [String] {
        let components = relative.split(separator: "/").map(String.init)
        let first = components.firstIndex { Glob.hasWildcard(Substring($0)) } ?? components.count
        var found: [String] = []
        func walk(_ directory: String, _ remaining: ArraySlice<String>) throws {
            guard let pattern = remaining.first else { return }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: hostPath(directory))) ?? []
            for name in names.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                let matched: Bool
                do {
                    matched = try Glob.matches(Array(pattern.unicodeScalars)[...], Array(name.unicodeScalars)[...])
                } catch {
                    throw fail(instruction, "\(instruction.keyword): '\(pattern)' is not a valid wildcard pattern")
                }
                guard matched else { continue }
                let path = directory.isEmpty ? name : directory + "/" + name
                if remaining.count == 1 {
                    found.append(path)
                } else if HostFile.kind(hostPath(path), follow: false) == .directory {
                    try walk(path, remaining.dropFirst())
                }
            }
        }
        try walk(components[..<first].joined(separator: "/"), components[first...])
        return found
    }

    /// Refuses a `.dockerignore` with patterns: Docker would leave out the files it names, and a layer
    /// input cannot. The Dockerfile's own `<Dockerfile>.dockerignore` wins over the context's, as in BuildKit.
    mutating func checkIgnoreFile(_ instruction: Dockerfile.Instruction) throws {
        guard !ignoreFileChecked else { return }
        ignoreFileChecked = true
        for candidate in [file.path + ".dockerignore", context + "/.dockerignore"] {
            guard let text = try? String(contentsOfFile: candidate, encoding: .utf8) else { continue }
            let patterns = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            if !patterns.isEmpty {
                throw fail(instruction, "\(instruction.keyword): \(candidate) is not supported: Kiln would copy the files it leaves out; remove its patterns, or move those files out of the build context")
            }
            return
        }
    }
}

/// What a host path is, read without following or following symlinks.
enum HostFile {
    enum Kind: Equatable { case missing, directory, file, symlink }

    static func kind(_ path: String, follow: Bool) -> Kind {
        var info = stat()
        guard (follow ? stat(path, &info) : lstat(path, &info)) == 0 else { return .missing }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFLNK: return .symlink
        default: return .file
        }
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The archive format a file starts with, for the ones Docker's ADD extracts: tar, and gzip,
    /// bzip2, xz or zstd (which Docker extracts when they hold a tar).
    static func archiveFormat(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: 262)) ?? Data())
        func starts(_ magic: [UInt8]) -> Bool { head.count >= magic.count && Array(head[..<magic.count]) == magic }
        if head.count >= 262, Array(head[257..<262]) == Array("ustar".utf8) { return "tar" }
        if starts([0x1F, 0x8B]) { return "gzip" }
        if starts(Array("BZh".utf8)) { return "bzip2" }
        if starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return "xz" }
        if starts([0x28, 0xB5, 0x2F, 0xFD]) { return "zstd" }
        return nil
    }
}
