import Archive
import Foundation

/// File operations that either complete or leave nothing: write to a temporary name, then rename.
public enum Atomic {
    /// A hidden sibling path on the same filesystem as `path`, so that a rename can finish the job.
    public static func stagingPath(for path: String) throws -> String {
        let url = URL(fileURLWithPath: path)
        let parent = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ImageError.output("the directory \(parent) does not exist")
        }
        guard access(parent, W_OK) == 0 else { throw ImageError.output("cannot write to \(parent): permission denied") }
        removeLeftovers(of: url.lastPathComponent, in: parent)
        return "\(parent)/.\(url.lastPathComponent).kiln-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Removes the staging directories of earlier runs for the same output whose process is gone (a
    /// SIGKILL or a power cut gives no chance to clean up). A live process's directory is left alone.
    static func removeLeftovers(of name: String, in parent: String) {
        let prefix = ".\(name).kiln-"
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] where entry.hasPrefix(prefix) {
            guard let pid = entry.dropFirst(prefix.count).split(separator: "-").first.flatMap({ Int32($0) }), pid != getpid(),
                  kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: "\(parent)/\(entry)")
        }
    }

    /// Runs `body` holding an exclusive lock on `path`'s parent directory (flock works on directories, so
    /// no lock file is left behind). Writers of one layout take turns: two builds adding tags both land,
    /// and two creating it do not race to rename onto the same name.
    public static func withLock<T>(onParentOf path: String, _ body: () async throws -> T) async throws -> T {
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ImageError.output("cannot open \(parent): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw ImageError.output("cannot lock \(parent): \(String(cString: strerror(errno)))") }
        }
        defer { flock(fd, LOCK_UN) }
        return try await body()
    }

    /// Creates the missing parent directories of `path` and returns them, deepest first, so a failed
    /// build can remove exactly what it made.
    public static func createParents(of path: String) throws -> [String] {
        var missing: [String] = []
        var parent = URL(fileURLWithPath: path).deletingLastPathComponent()
        while parent.path != "/", !FileManager.default.fileExists(atPath: parent.path) {
            missing.append(parent.path)
            parent.deleteLastPathComponent()
        }
        for directory in missing.reversed() {
            guard mkdir(directory, 0o755) == 0 else {
                let reason = String(cString: strerror(errno))
                removeEmpty(missing)
                throw ImageError.output("cannot create directory \(directory): \(reason)")
            }
        }
        return missing
    }

    /// Removes directories made by `createParents`, if they are still empty.
    public static func removeEmpty(_ directories: [String]) {
        for directory in directories { rmdir(directory) }
    }

    /// Renames `from` to `to`, replacing `to`; throws an output error naming `to` on failure.
    public static func rename(_ from: String, to: String) throws {
        guard Foundation.rename(from, to) == 0 else {
            throw ImageError.output("cannot move into place at \(to): \(String(cString: strerror(errno)))")
        }
    }

    /// Writes `data` to `path` through a staging file, so `path` is either the old file or all of `data`.
    public static func write(_ data: Data, to path: String) throws {
        let staging = try stagingPath(for: path)
        do {
            try data.write(to: URL(fileURLWithPath: staging))
            try rename(staging, to: path)
        } catch {
            unlink(staging)
            throw error as? ImageError ?? ImageError.output("cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// Puts a blob at `target`: a hard link when the filesystem allows, else a copy; skipped when present.
    public static func placeBlob(from source: String, at target: String) throws {
        if FileManager.default.fileExists(atPath: target) { return }
        if link(source, target) == 0 { return }
        let staging = try stagingPath(for: target)
        do {
            try FileCopy.copy(from: source, to: staging)
            try rename(staging, to: target)
        } catch {
            unlink(staging)
            throw error as? ImageError ?? ImageError.output("cannot copy blob to \(target): \(error)")
        }
    }
}
