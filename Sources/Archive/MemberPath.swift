/// The lexical rules for a member of an archive Kiln unpacks (conda packages, sdists): its path must be
/// relative without `..`, and a symlink it makes must resolve inside the tree.
public enum MemberPath {
    public enum Problem: Error, Sendable, Equatable {
        case absolute
        /// A `..` component.
        case climbs
    }

    /// The directory part of a path joined from a root and a checked member path (no `.`, `..`, doubled or
    /// trailing `/`), cut at its last `/` as bytes: NSString's `deletingLastPathComponent` normalises the
    /// path first, which cost 5% of a cold wheel install.
    public static func parent(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "" }
        return slash == path.utf8.startIndex ? "/" : String(Substring(path.utf8[..<slash]))
    }

    /// True for a relative path of non-empty components, none made only of dots, without NUL: already in the form
    /// `relative` and a destination's normalisation give, so it is used as it is, with no splitting (nearly every
    /// member of every wheel; the rest take the full check).
    public static func isPlain(_ path: String) -> Bool {
        var component = 0, dots = 0
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "/"):
                if component == 0 || component == dots { return false }
                component = 0
                dots = 0
            case 0: return false
            case UInt8(ascii: "."):
                component += 1
                dots += 1
            default: component += 1
            }
        }
        return component > 0 && component != dots
    }

    /// `path` without `.` components, or why it is refused.
    public static func relative(_ path: String) -> Result<String, Problem> {
        guard !path.hasPrefix("/") else { return .failure(.absolute) }
        let parts = path.split(separator: "/").filter { $0 != "." }
        guard !parts.contains("..") else { return .failure(.climbs) }
        return .success(parts.joined(separator: "/"))
    }

    /// Whether a symlink at `relative` with text `link` resolves inside the tree (absolute links never do).
    public static func linkStays(_ link: String, from relative: String) -> Bool {
        target(of: link, from: relative) != nil
    }

    /// Where a symlink at `relative` with text `link` points, relative to the tree's root (lexically: the
    /// components it passes are not followed); nil when it is absolute, empty or leaves the tree.
    public static func target(of link: String, from relative: String) -> String? {
        guard !link.hasPrefix("/"), !link.isEmpty else { return nil }
        var stack = relative.split(separator: "/").dropLast().map(String.init)
        for part in link.split(separator: "/") {
            if part == ".." {
                guard !stack.isEmpty else { return nil }
                stack.removeLast()
            } else if part != "." {
                stack.append(String(part))
            }
        }
        return stack.joined(separator: "/")
    }
}
