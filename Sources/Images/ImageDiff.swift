import Foundation
import OCI

/// What differs between two images: files (added, removed, changed) and config fields.
public struct ImageDiff: Sendable, Encodable {
    /// A path that was added, removed or changed between the two images.
    public struct FileChange: Sendable, Encodable, Equatable {
        /// How a path differs: present only in the second image, only in the first, or in both but different.
        public enum Change: String, Sendable, Encodable { case added, removed, changed }
        /// The absolute path in the image.
        public var path: String
        /// Whether the path was added, removed or changed.
        public var change: Change
        /// For `changed`: which aspects (content, mode, type, link).
        public var aspects: [String]?
    }

    /// A config field whose value differs between the two images.
    public struct ConfigChange: Sendable, Encodable, Equatable {
        /// The field name, such as `architecture` or `config.Env`.
        public var field: String
        /// The value in the first image, or nil when unset.
        public var old: String?
        /// The value in the second image, or nil when unset.
        public var new: String?
    }

    /// File differences, sorted by path.
    public var files: [FileChange] = []
    /// Config differences, sorted by field.
    public var config: [ConfigChange] = []

    /// Whether the images have the same files and config.
    public var isEmpty: Bool { files.isEmpty && config.isEmpty }

    /// Compares image `a` with image `b`; both images' layers must be on this machine.
    public init(_ a: Image, _ b: Image) throws {
        let left = try Filesystem(image: a)
        let right = try Filesystem(image: b)
        for path in Set(left.nodes.keys).union(right.nodes.keys).sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            switch (left.nodes[path], right.nodes[path]) {
            case (nil, .some): files.append(FileChange(path: path, change: .added))
            case (.some, nil): files.append(FileChange(path: path, change: .removed))
            case let (.some(old), .some(new)):
                var aspects: [String] = []
                if old.kind != new.kind { aspects.append("type") }
                if old.mode != new.mode { aspects.append("mode") }
                if old.contentDigest != new.contentDigest || old.size != new.size { aspects.append("content") }
                if old.linkTarget != new.linkTarget { aspects.append("link") }
                if !aspects.isEmpty { files.append(FileChange(path: path, change: .changed, aspects: aspects)) }
            default: break
            }
        }
        config = try Self.configChanges(a.config, b.config)
    }

    /// Field-by-field comparison of the two configs, ignoring rootfs and history (the file diff covers those).
    static func configChanges(_ a: ImageConfiguration, _ b: ImageConfiguration) throws -> [ConfigChange] {
        func fields(_ config: ImageConfiguration) throws -> [String: String] {
            var copy = config
            copy.rootfs = .init(diffIDs: [])
            copy.history = nil
            let object = try JSONSerialization.jsonObject(with: CanonicalJSON.encode(copy)) as? [String: Any] ?? [:]
            var flat: [String: String] = [:]
            for (key, value) in object {
                if key == "rootfs" { continue }
                if key == "config", let inner = value as? [String: Any] {
                    for (innerKey, innerValue) in inner { flat["config.\(innerKey)"] = try render(innerValue) }
                } else {
                    flat[key] = try render(value)
                }
            }
            return flat
        }
        func render(_ value: Any) throws -> String {
            if let text = value as? String { return text }
            let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
            return String(decoding: data, as: UTF8.self)
        }
        let left = try fields(a)
        let right = try fields(b)
        return Set(left.keys).union(right.keys).sorted().compactMap { key in
            left[key] == right[key] ? nil : ConfigChange(field: key, old: left[key], new: right[key])
        }
    }

    /// One line per difference: `+ /path`, `- /path`, `~ /path (content, mode)`, `config Env: old -> new`.
    public var lines: [String] {
        files.map { change in
            switch change.change {
            case .added: return "+ \(change.path)"
            case .removed: return "- \(change.path)"
            case .changed: return "~ \(change.path) (\((change.aspects ?? []).joined(separator: ", ")))"
            }
        } + config.map { "config \($0.field): \($0.old ?? "(unset)") -> \($0.new ?? "(unset)")" }
    }
}
