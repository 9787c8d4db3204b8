import Foundation
import Plan
#if canImport(Glibc)
import Glibc
#endif

/// Files an install left unwritten because a layer will read them straight from where they are (a wheel's
/// member, a conda package's file in the cache): each staged path (absolute, where the file would have
/// been) and its source.
///
/// Installs into one staged tree share one value. A file written to a path drops any member deferred there,
/// and deferring a path removes a file already there, so the last install to touch a path wins, as on disk.
public final class DeferredMembers: @unchecked Sendable {
    private let lock = NSLock()
    private var members: [String: (source: StagedMember.Source, mode: UInt32)] = [:]

    public init() {}

    /// Leaves the file at `path` to `source`, replacing whatever an earlier install wrote there.
    public func add(_ path: String, source: StagedMember.Source, mode: UInt32) {
        unlink(path)
        lock.withLock { members[path] = (source, mode) }
    }

    /// Drops a deferred file at `path`: the caller writes one there now.
    public func forget(_ path: String) {
        lock.withLock { _ = members.removeValue(forKey: path) }
    }

    /// How many bytes the file at `path` holds, when it is deferred.
    public func size(of path: String) -> Int64? {
        lock.withLock { members[path]?.source.size }
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
                members.removeValue(forKey: path).map { StagedMember(path: String(path.dropFirst(prefix.count)), source: $0.source, mode: $0.mode) }
            }
        }
    }

    /// Writes every deferred file that is a plain file (not an archive member) to its path after all: for a step
    /// that needs the tree complete on disk, such as an sdist build running the environment's python. Copies,
    /// never hard links: the layer stores files linked to each other once, so links to the cache (which may hold
    /// a package's hard-linked files) would give other layer bytes than the deferred files do.
    public func materializeFiles() throws {
        let files: [(path: String, source: String)] = lock.withLock {
            members.compactMap { path, entry in
                if case let .file(source, _) = entry.source { return (path, source) }
                return nil
            }
        }
        var made = Set<String>()
        for (path, source) in files.sorted(by: { $0.path < $1.path }) {
            let parent = (path as NSString).deletingLastPathComponent
            if made.insert(parent).inserted { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
            unlink(path)
            do {
                try FileManager.default.copyItem(atPath: source, toPath: path)
            } catch {
                throw ArchiveError.write("cannot place \(source) at \(path): \(error.localizedDescription)")
            }
            forget(path)
        }
    }
}
