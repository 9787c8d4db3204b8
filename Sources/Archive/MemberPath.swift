/// The lexical rules for a member of an archive Kiln unpacks (conda packages, sdists): its path must be
/// relative without `..`, and a symlink it makes must resolve inside the tree.
public enum MemberPath {
    public enum Problem: Error, Sendable, Equatable {
        case absolute
        /// A `..` component.
        case climbs
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
        guard !link.hasPrefix("/"), !link.isEmpty else { return false }
        var stack = relative.split(separator: "/").dropLast().map(String.init)
        for part in link.split(separator: "/") {
            if part == ".." {
                guard !stack.isEmpty else { return false }
                stack.removeLast()
            } else if part != "." {
                stack.append(String(part))
            }
        }
        return true
    }
}
