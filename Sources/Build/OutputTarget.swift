import OCI

/// Where a built image goes: `oci:DIR[:TAG]` or `docker-archive:FILE[:REF]`.
/// As in skopeo, the first ':' after the transport ends the path, so paths cannot contain ':'.
public enum OutputTarget: Sendable, Equatable {
    case layout(path: String, tag: String?)
    case dockerArchive(path: String, reference: Reference?)
    /// A registry repository, pushed over the distribution API.
    case registry(Reference)

    public init(parsing text: String) throws {
        if let rest = text.dropPrefix("oci:") {
            let (path, tag) = Self.split(rest)
            guard !path.isEmpty else { throw BuildError.invalidArgument("output '\(text)': missing directory after oci:") }
            if let tag, !Reference.isValidTag(tag) {
                throw BuildError.invalidArgument("output '\(text)': tag '\(tag)' must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
            }
            self = .layout(path: path, tag: tag)
        } else if let rest = text.dropPrefix("docker-archive:") {
            let (path, name) = Self.split(rest)
            guard !path.isEmpty else { throw BuildError.invalidArgument("output '\(text)': missing file after docker-archive:") }
            var reference = try name.map { try Reference(parsing: $0) }
            if reference?.digest != nil {
                throw BuildError.invalidArgument("output '\(text)': a docker-archive reference takes a tag, not a digest")
            }
            if reference != nil, reference?.tag == nil { reference?.tag = "latest" }
            self = .dockerArchive(path: path, reference: reference)
        } else if text.contains("/") && !text.hasPrefix("/") && !text.hasPrefix(".") {
            self = .registry(try Reference(parsing: text))
        } else {
            throw BuildError.invalidArgument("output '\(text)': expected oci:DIR[:TAG], docker-archive:FILE[:NAME:TAG] or REGISTRY/REPO[:TAG]")
        }
    }

    static func split(_ text: Substring) -> (String, String?) {
        guard let colon = text.firstIndex(of: ":") else { return (String(text), nil) }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    /// The file or directory the output creates.
    public var path: String? {
        switch self {
        case let .layout(path, _), let .dockerArchive(path, _): return path
        case .registry: return nil
        }
    }
}

/// Parses `oci:DIR[:TAG]`, `scratch`, or a registry reference, as a build base.
public func parseBase(_ text: String) throws -> BaseImage {
    if text == "scratch" { return .scratch }
    if let rest = text.dropPrefix("oci:") {
        let (path, tag) = OutputTarget.split(rest)
        guard !path.isEmpty else { throw BuildError.invalidArgument("base '\(text)': missing directory after oci:") }
        return .layout(path: path, tag: tag)
    }
    return .registry(try Reference(parsing: text))
}

extension String {
    func dropPrefix(_ prefix: String) -> Substring? {
        hasPrefix(prefix) ? dropFirst(prefix.count) : nil
    }
}
