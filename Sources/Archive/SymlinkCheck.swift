#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decides whether a symlink stays inside its source root. The check follows links it meets inside
/// the root (a purely lexical check would let `a -> .` plus `a/../..` walk out), and refuses
/// absolute targets, which would mean something else inside the image than on the build host.
enum SymlinkCheck {
    static let maxDepth = 40

    static func ensureInside(root: String, linkRelative: String, target: String, linkPath: String) throws {
        var parent = linkRelative.split(separator: "/").map(String.init)
        parent.removeLast()
        guard try resolve(root: root, base: parent, target: target, depth: 0) else {
            throw ArchiveError.symlinkEscapes(path: linkPath, target: target, root: root)
        }
    }

    /// Walks `target` from `base` (components below root); false when it leaves the root.
    private static func resolve(root: String, base: [String], target: String, depth: Int) throws -> Bool {
        guard depth < maxDepth, !target.hasPrefix("/") else { return false }
        var stack = base
        let parts = target.split(separator: "/").map(String.init)
        for (position, part) in parts.enumerated() {
            switch part {
            case ".": continue
            case "..":
                if stack.isEmpty { return false }
                stack.removeLast()
            default:
                stack.append(part)
                let full = root + "/" + stack.joined(separator: "/")
                var info = stat()
                guard lstat(full, &info) == 0 else {
                    // A dangling remainder cannot escape by a link that does not exist; keep checking lexically.
                    continue
                }
                if (info.st_mode & S_IFMT) == S_IFLNK {
                    let inner = try EntryCollector.readLink(full)
                    stack.removeLast()
                    let rest = parts[(position + 1)...].joined(separator: "/")
                    let combined = rest.isEmpty ? inner : inner + "/" + rest
                    return try resolve(root: root, base: stack, target: combined, depth: depth + 1)
                }
            }
        }
        return true
    }
}
