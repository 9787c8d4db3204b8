import Foundation
import HTTP

/// A cached wheel is named by its sha256 and hashed when stored, then again at its first use a second or more
/// later; `<wheel>.verified` then records its stat. While size, inode, mtime and ctime still match, the file was
/// not rewritten (ctime cannot be set back), so a warm build need not hash every wheel again, which took most of
/// its resolve. Any difference, or no record, and the wheel is hashed. The stat is taken before hashing and
/// compared after, and a file changed within the last second is not recorded (its times may not have moved
/// yet: git's "racy" entries). This trusts the cache directory as the layer cache does: whoever can write it can
/// write a matching record.
///
/// A wheel Kiln has just downloaded is recorded at once (`recordStored`): its bytes are the ones hashed on the way
/// in, and the record is tied to the inode, size and mtime the file had after its last write, checked again after
/// the rename. Without it the first build to reuse a wheel hashed every one again (74 MB for the pip benchmark's
/// 55 wheels, a third of a warm build that followed a cold one within a second or so).
extension IndexClient {
    static func verifiedStamp(_ path: String) -> String? { stamped(path)?.stamp }

    /// The stamp of the regular file at `path`, and the second of its last change.
    private static func stamped(_ path: String) -> (stamp: String, changed: Int)? {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return (stamp(of: info), Int(info.st_ctim.tv_sec))
    }

    private static func stamp(of info: stat) -> String {
        "\(info.st_size) \(info.st_dev) \(info.st_ino) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec) \(info.st_ctim.tv_sec).\(info.st_ctim.tv_nsec)\n"
    }

    static func unchangedSinceVerified(_ path: String) -> Bool {
        guard let recorded = FileManager.default.contents(atPath: path + ".verified"), let now = verifiedStamp(path) else { return false }
        return recorded == Data(now.utf8)
    }

    /// Records the wheel Kiln just stored at `path` as verified, when it is still the file whose stat after its last
    /// write was `written` (same inode, size and mtime; the rename changed only its ctime).
    /// Only where the file system keeps sub-second times (a nonzero nanosecond part): there a rewrite a timer tick
    /// later moves the mtime; where times are whole seconds, the record waits for the one-second rule as before.
    static func recordStored(_ path: String, written: stat?) {
        var now = stat()
        guard let written, written.st_mtim.tv_nsec != 0, lstat(path, &now) == 0, now.st_mode & S_IFMT == S_IFREG,
              now.st_ino == written.st_ino, now.st_dev == written.st_dev, now.st_size == written.st_size,
              now.st_mtim.tv_sec == written.st_mtim.tv_sec, now.st_mtim.tv_nsec == written.st_mtim.tv_nsec else { return }
        // The stamp of the stat just compared, not of a second one taken after it.
        try? RenamedFile.write(Data(stamp(of: now).utf8), to: path + ".verified")
    }

    /// Records `path` as verified when its stat is still `before` (taken before it was hashed) and its last
    /// change is at least a second old.
    static func recordVerified(_ path: String, ifStill before: String?) {
        guard let before, let now = stamped(path), now.stamp == before, now.changed + 1 < Int(time(nil)) else { return }
        try? RenamedFile.write(Data(before.utf8), to: path + ".verified")
    }
}
