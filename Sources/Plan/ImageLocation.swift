import OCI

/// Where an image is, or is to go: the one location model for bases, outputs, pulls and pushes.
///
/// Parsed once from the forms skopeo uses: `scratch`, `oci:DIR[:TAG]`, `docker-archive:FILE[:NAME:TAG]`,
/// or `REGISTRY/REPO[:TAG|@DIGEST]`. As in skopeo, the first ':' after the transport ends the path, so
/// paths cannot contain ':'.
public enum ImageLocation: Sendable, Equatable, CustomStringConvertible {
    /// No image: an empty base. It can be read, never written.
    case scratch
    /// An OCI image layout directory, and the tag (`org.opencontainers.image.ref.name`) inside it.
    case layout(path: String, tag: String?)
    /// A `docker save` / `docker load` tarball, and the name it records.
    case dockerArchive(path: String, reference: Reference?)
    /// An image in a registry repository.
    case registry(Reference)

    /// Parses one of the four forms. A bare path (`/x`, `./x`, `x`) is refused, since it is neither.
    public init(parsing text: String) throws {
        if text == "scratch" {
            self = .scratch
        } else if let rest = text.dropPrefix("oci:") {
            let (path, tag) = Self.split(rest)
            guard !path.isEmpty else { throw PlanError.invalid("image location '\(text)': missing directory after oci:") }
            if let tag, !Reference.isValidTag(tag) {
                throw PlanError.invalid("image location '\(text)': tag '\(tag)' must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
            }
            self = .layout(path: path, tag: tag)
        } else if let rest = text.dropPrefix("docker-archive:") {
            let (path, name) = Self.split(rest)
            guard !path.isEmpty else { throw PlanError.invalid("image location '\(text)': missing file after docker-archive:") }
            var reference = try name.map { try Reference(parsing: $0) }
            if reference?.digest != nil {
                throw PlanError.invalid("image location '\(text)': a docker-archive reference takes a tag, not a digest")
            }
            if reference != nil, reference?.tag == nil { reference?.tag = "latest" }
            self = .dockerArchive(path: path, reference: reference)
        } else if text.contains("/") && !text.hasPrefix("/") && !text.hasPrefix(".") {
            self = .registry(try Reference(parsing: text))
        } else {
            throw PlanError.invalid("image location '\(text)': expected scratch, oci:DIR[:TAG], docker-archive:FILE[:NAME:TAG] or REGISTRY/REPO[:TAG|@DIGEST]")
        }
    }

    static func split(_ text: Substring) -> (String, String?) {
        guard let colon = text.firstIndex(of: ":") else { return (String(text), nil) }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    /// The file or directory on this machine, for the local kinds.
    public var path: String? {
        switch self {
        case let .layout(path, _), let .dockerArchive(path, _): return path
        case .scratch, .registry: return nil
        }
    }

    /// The location written back in the form it parses from.
    public var description: String {
        switch self {
        case .scratch: return "scratch"
        case let .layout(path, tag): return "oci:\(path)" + (tag.map { ":\($0)" } ?? "")
        case let .dockerArchive(path, reference): return "docker-archive:\(path)" + (reference.map { ":\($0.familiarName):\($0.tagOrLatest)" } ?? "")
        case let .registry(reference): return reference.description
        }
    }
}

extension String {
    func dropPrefix(_ prefix: String) -> Substring? {
        hasPrefix(prefix) ? dropFirst(prefix.count) : nil
    }
}
