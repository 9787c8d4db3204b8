import Archive
import Foundation
import OCI

/// The flattened file tree of an image: its layers applied in order, whiteouts included.
public struct Filesystem: Sendable {
    public struct Node: Sendable, Equatable {
        public var kind: TarMember.Kind
        public var mode: UInt32
        public var size: Int64
        /// SHA-256 of a file's bytes.
        public var contentDigest: Digest?
        public var linkTarget: String?
    }

    /// Paths are absolute (`/etc/passwd`).
    public private(set) var nodes: [String: Node] = [:]

    static let whiteoutPrefix = ".wh."
    static let opaqueMarker = ".wh..wh..opq"

    public init() {}

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
