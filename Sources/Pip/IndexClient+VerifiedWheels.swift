import Foundation
import HTTP

/// A cached wheel is named by its sha256 and hashed when stored, then again at its first use a second or more
/// later; `<wheel>.verified` then records its stat. While size, inode, mtime and ctime still match, the file was
/// not rewritten (ctime cannot be set back), so a warm build need not hash every wheel again, which took most of
/// its resolve. Any difference, or no record, and the wheel is hashed. The stat is taken before hashing and
/// compared after, and a file changed within the last second is not recorded (its times may not have moved
/// yet: git's "racy" entries). This trusts the cache directory as the layer cache does: whoever can write it can
/// write a matching record.
extension IndexClient {
    static func verifiedStamp(_ path: String) -> String? { stamped(path)?.stamp }

    /// The stamp of the regular file at `path`, and the second of its last change.
    private static func stamped(_ path: String) -> (stamp: String, changed: Int)? {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        let stamp = "\(info.st_size) \(info.st_dev) \(info.st_ino) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec) \(info.st_ctim.tv_sec).\(info.st_ctim.tv_nsec)\n"
        return (stamp, Int(info.st_ctim.tv_sec))
    }

    static func unchangedSinceVerified(_ path: String) -> Bool {
        guard let recorded = FileManager.default.contents(atPath: path + ".verified"), let now = verifiedStamp(path) else { return false }
        return recorded == Data(now.utf8)
    }

    /// Records `path` as verified when its stat is still `before` (taken before it was hashed) and its last
    /// change is at least a second old.
    static func recordVerified(_ path: String, ifStill before: String?) {
        guard let before, let now = stamped(path), now.stamp == before, now.changed + 1 < Int(time(nil)) else { return }
        try? RenamedFile.write(Data(before.utf8), to: path + ".verified")
    }
}
