import Archive
import Foundation
import OCI

/// The flattened file tree of an image: its layers applied in order, whiteouts included.
public struct Filesystem: Sendable {
    /// One entry of the tree: what it is and what a diff compares.
    public struct Node: Sendable, Equatable {
        /// File, directory, symlink or other; hard links to a known file are recorded as files.
        public var kind: TarMember.Kind
        /// The permission bits.
        public var mode: UInt32
        /// The size in bytes, as the tar header gives it.
        public var size: Int64
        /// SHA-256 of a file's bytes.
        public var contentDigest: Digest?
        /// The target of a symlink, or of a hard link whose target was not found.
        public var linkTarget: String?
    }

    /// Every entry of the tree, keyed by absolute path (`/etc/passwd`).
    public private(set) var nodes: [String: Node] = [:]

    static let whiteoutPrefix = ".wh."
    static let opaqueMarker = ".wh..wh..opq"

    /// An empty tree.
    public init() {}

    /// The tree of `image`, from its layers read in order; they must be on this machine.
    public init(image: Image) throws {
        for layer in image.layers { try apply(layerAt: layer.localPath()) }
    }

    /// Applies one layer: its whiteouts and opaque markers hide lower entries, then its members land.
    public mutating func apply(layerAt path: String) throws {
        let reader = try TarReader(path: path)
        var added: [String: Node] = [:]
        var deletions: [String] = []
        var opaque: [String] = []
        while let member = try reader.next() {
            let clean = Self.clean(member.path)
            let name = clean.split(separator: "/").last.map(String.init) ?? ""
            let parent = String(clean.dropLast(name.count)).trimmingTrailingSlash
            if name == Self.opaqueMarker {
                opaque.append(parent)
            } else if name.hasPrefix(Self.whiteoutPrefix) {
                deletions.append(Self.clean(parent + "/" + name.dropFirst(Self.whiteoutPrefix.count)))
            } else {
                var node = Node(kind: member.kind, mode: member.mode, size: member.size, contentDigest: nil,
                                linkTarget: member.linkTarget)
                if member.kind == .file { node.contentDigest = try reader.digestData() }
                if member.kind == .hardlink, let target = member.linkTarget {
                    node.linkTarget = Self.clean(target)
                    if let original = added[Self.clean(target)] ?? nodes[Self.clean(target)] {
                        node = Node(kind: .file, mode: original.mode, size: original.size,
                                    contentDigest: original.contentDigest, linkTarget: nil)
                    }
                }
                added[clean] = node
            }
        }
        for directory in opaque {
            let prefix = directory == "/" ? "/" : directory + "/"
            nodes = nodes.filter { !$0.key.hasPrefix(prefix) }
        }
        for path in deletions {
            nodes[path] = nil
            nodes = nodes.filter { !$0.key.hasPrefix(path + "/") }
        }
        nodes.merge(added) { _, new in new }
    }

    /// `./a/b/` → `/a/b`
    static func clean(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == ".." { _ = parts.popLast() } else { parts.append(part) }
        }
        return "/" + parts.joined(separator: "/")
    }
}

extension String {
    var trimmingTrailingSlash: String {
        var text = self
        while text.count > 1, text.hasSuffix("/") { text.removeLast() }
        return text
    }
}
