/// An image reference, parsed by the docker reference grammar (distribution/reference):
///
///     reference := name [ ":" tag ] [ "@" digest ]
///     name      := [domain "/"] path-component ["/" path-component]*
///
/// Normalisation follows docker: no domain means `docker.io`, and a single path component on
/// docker.io gets `library/`.
public struct Reference: Hashable, Sendable, CustomStringConvertible {
    /// The registry used when a reference names none.
    public static let defaultRegistry = "docker.io"

    /// The registry host, with its port if any: `docker.io`, `localhost:5000`.
    public var registry: String
    /// The repository path within the registry: `library/busybox`.
    public var repository: String
    /// The tag, if the reference has one.
    public var tag: String?
    /// The manifest digest, if the reference pins one.
    public var digest: Digest?

    /// A reference from its parts, without validation or normalisation.
    public init(registry: String, repository: String, tag: String? = nil, digest: Digest? = nil) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Parses and normalises `text`, such as `busybox`, `ghcr.io/org/app:1.0` or `repo@sha256:…`.
    public init(parsing text: String) throws {
        func fail(_ reason: String) -> OCIError { .invalidReference(text, reason: reason) }
        guard !text.isEmpty else { throw fail("it is empty") }
        var rest = Substring(text)

        if let at = rest.firstIndex(of: "@") {
            do {
                digest = try Digest(parsing: String(rest[rest.index(after: at)...]))
            } catch let error as OCIError {
                throw fail("\(error)")
            }
            rest = rest[..<at]
        }
        // A ':' after the last '/' starts a tag; one before it is a registry port.
        let lastSlash = rest.lastIndex(of: "/") ?? rest.startIndex
        if let colon = rest[lastSlash...].lastIndex(of: ":") {
            let candidate = String(rest[rest.index(after: colon)...])
            guard Self.isValidTag(candidate) else {
                throw fail("tag '\(candidate)' must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
            }
            tag = candidate
            rest = rest[..<colon]
        }
        guard !rest.isEmpty else { throw fail("the repository name is empty") }
        if rest.utf8.count == 64, rest.utf8.allSatisfy({ Self.isHex($0) }) {
            throw fail("a 64-character hex string is an image ID, not a repository name")
        }

        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let first = components[0]
        let hasDomain = components.count > 1
            && (first.contains(".") || first.contains(":") || first == "localhost" || first.lowercased() != first)
        if hasDomain {
            guard Self.isValidDomain(first) else { throw fail("registry '\(first)' is not a valid host[:port]") }
            registry = first == "index.docker.io" ? Self.defaultRegistry : first
            components.removeFirst()
        } else {
            registry = Self.defaultRegistry
        }
        for component in components {
            if component.lowercased() != component, Self.isValidPathComponent(component.lowercased()) {
                throw fail("repository name must be lowercase")
            }
            guard Self.isValidPathComponent(component) else {
                throw fail("path component '\(component)' must be lower-case letters and digits, separated by '.', '_', '__' or '-'")
            }
        }
        if registry == Self.defaultRegistry, components.count == 1 { components.insert("library", at: 0) }
        repository = components.joined(separator: "/")
        guard (registry + "/" + repository).utf8.count <= 255 else { throw fail("the name is longer than 255 characters") }
    }

    /// The fully qualified form: `docker.io/library/busybox:latest`.
    public var description: String {
        var text = "\(registry)/\(repository)"
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }

    /// The short form docker prints and `docker load` expects in RepoTags: `busybox:latest`.
    public var familiarName: String {
        var name = "\(registry)/\(repository)"
        if registry == Self.defaultRegistry {
            name = repository.hasPrefix("library/") && repository.split(separator: "/").count == 2
                ? String(repository.dropFirst("library/".count)) : repository
        }
        return name
    }

    /// The tag, or `latest` when the reference names neither a tag nor a digest.
    public var tagOrLatest: String { tag ?? "latest" }

    /// Whether `tag` is a valid tag: 1 to 128 of letters, digits, `_`, `.` and `-`, not starting with `.` or `-`.
    public static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard (1...128).contains(bytes.count), isWord(bytes[0]) else { return false }
        return bytes.dropFirst().allSatisfy { isWord($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    static func isWord(_ byte: UInt8) -> Bool { isAlnum(byte) || byte == UInt8(ascii: "_") }
    static func isAlnum(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
    }
    static func isLowerAlnum(_ byte: UInt8) -> Bool { (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7a) }
    static func isHex(_ byte: UInt8) -> Bool { (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) }

    /// `[a-z0-9]+ (([._]|__|-+) [a-z0-9]+)*`
    static func isValidPathComponent(_ component: String) -> Bool {
        let bytes = Array(component.utf8)
        guard let first = bytes.first, let last = bytes.last, isLowerAlnum(first), isLowerAlnum(last) else { return false }
        var separator: [UInt8] = []
        for byte in bytes {
            if isLowerAlnum(byte) {
                if !separator.isEmpty {
                    let text = String(decoding: separator, as: UTF8.self)
                    let ok = text == "." || text == "_" || text == "__" || separator.allSatisfy { $0 == UInt8(ascii: "-") }
                    guard ok else { return false }
                    separator.removeAll()
                }
            } else if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") {
                separator.append(byte)
            } else {
                return false
            }
        }
        return true
    }

    /// `host-component ("." host-component)* [":" port]`, or a bracketed IPv6 address with an optional port.
    static func isValidDomain(_ domain: String) -> Bool {
        var host = Substring(domain)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let inside = host[host.index(after: host.startIndex)..<close]
            guard !inside.isEmpty, inside.utf8.allSatisfy({ isHex($0) || isAlnum($0) || $0 == UInt8(ascii: ":") }) else { return false }
            host = host[host.index(after: close)...]
            if host.isEmpty { return true }
            guard host.hasPrefix(":") else { return false }
            let port = host.dropFirst()
            return !port.isEmpty && port.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        }
        if let colon = host.lastIndex(of: ":") {
            let port = host[host.index(after: colon)...]
            guard !port.isEmpty, port.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return false }
            host = host[..<colon]
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return !labels.isEmpty && labels.allSatisfy { label in
            let bytes = Array(label.utf8)
            guard let first = bytes.first, let last = bytes.last, isAlnum(first), isAlnum(last) else { return false }
            return bytes.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") }
        }
    }
}
