import Foundation
import Plan
#if canImport(Glibc)
import Glibc
#endif

/// Files an install left unwritten because a layer will read them straight from their wheels: each staged
/// path (absolute, where the file would have been) and the wheel member holding its bytes.
///
/// Installs into one staged tree share one value. A file written to a path drops any member deferred there,
/// and deferring a path removes a file already there, so the last install to touch a path wins, as on disk.
public final class DeferredMembers: @unchecked Sendable {
    private let lock = NSLock()
    private var members: [String: (member: ArchiveMember, mode: UInt32)] = [:]

    public init() {}

    func add(_ path: String, member: ArchiveMember, mode: UInt32) {
        unlink(path)
        lock.withLock { members[path] = (member, mode) }
    }

    func forget(_ path: String) {
        lock.withLock { _ = members.removeValue(forKey: path) }
    }

    /// How many bytes the file at `path` holds, when it is deferred.
    public func size(of path: String) -> Int64? {
        lock.withLock { members[path]?.member.size }
    }

    /// Moves the deferred file at `path` to `newPath` (another staged tree); false when `path` is not deferred.
    public func move(_ path: String, to newPath: String) -> Bool {
        lock.withLock {
            guard let entry = members.removeValue(forKey: path) else { return false }
            members[newPath] = entry
            return true
        }
    }

    /// The deferred files under `root`, relative to it, taken out of this value; for a layer input whose source is `root`.
    public func take(under root: String) -> [StagedMember] {
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return lock.withLock {
            let paths = members.keys.filter { $0.hasPrefix(prefix) }.sorted()
            return paths.compactMap { path in
                members.removeValue(forKey: path).map { StagedMember(path: String(path.dropFirst(prefix.count)), member: $0.member, mode: $0.mode) }
            }
        }
    }

    public var isEmpty: Bool { lock.withLock { members.isEmpty } }
}
