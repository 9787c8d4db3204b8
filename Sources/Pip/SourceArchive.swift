import Archive
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Unpacks a source distribution (`.tar.gz`, `.zip`, `.tar.bz2`, `.tar.xz`, `.tar`) before anything in it
/// runs. It refuses what Python's `tarfile` "data" filter refuses (absolute paths, `..`, links that leave the
/// tree, devices) and a bomb: members may not expand past `expansionLimit` together, checked against each
/// header before a byte is written.
public enum SourceArchive {
    /// Real sdists compress 3 to 10 times; the biggest (with vendored C sources) unpack to a few hundred MB.
    static func expansionLimit(archiveSize: Int64) -> Int64 {
        max(512 << 20, archiveSize.multipliedReportingOverflow(by: 50).overflow ? Int64.max : archiveSize * 50)
    }

    /// Extracts `archive` (named `fileName`) into the new directory `directory`, and returns the project
    /// directory inside it: the one top-level directory, as PEP 625 lays sdists out. Nothing is left on failure.
    public static func extract(_ archive: String, fileName: String, into directory: String) throws -> String {
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        do {
            try unpack(archive, fileName: fileName, into: directory)
            return try projectDirectory(in: directory, fileName: fileName)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    static func unpack(_ archive: String, fileName: String, into root: String) throws {
        let size = (try? FileManager.default.attributesOfItem(atPath: archive)[.size] as? NSNumber)?.int64Value ?? 0
        var remaining = expansionLimit(archiveSize: size)
        func fail(_ why: String) -> PipError { .build("\(fileName): \(why); kiln refuses to build it") }
        let reader: TarReader
        do { reader = try TarReader(path: archive, zip: fileName.lowercased().hasSuffix(".zip"), strictNames: true) } catch {
            throw PipError.build("\(fileName): not a readable source archive: \(error)")
        }
        do {
            while let member = try reader.next() {
                let relative = try safeRelativePath(member.path, fail: fail)
                if relative.isEmpty { continue }
                let target = root + "/" + relative
                try checkParents(relative, root: root, fail: fail)
                try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                switch member.kind {
                case .directory:
                    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
                case .file:
                    guard member.size <= remaining else {
                        throw fail("\(relative) would expand it past \(expansionLimit(archiveSize: size)) bytes (a decompression bomb)")
                    }
                    remaining -= member.size
                    unlink(target)
                    let sink = try FileSink(path: target)
                    var written: Int64 = 0
                    let limit = member.size
                    try reader.readData { bytes in
                        written += Int64(bytes.count)
                        guard written <= limit else { throw fail("\(relative) expands past its declared \(limit) bytes") }
                        try sink.write(bytes)
                    }
                    try sink.finish()
                    // Only the owner's exec bit matters to a build; no set-id or world-writable files.
                    chmod(target, member.mode & 0o100 != 0 ? 0o755 : 0o644)
                case .symlink:
                    let link = member.linkTarget ?? ""
                    guard MemberPath.linkStays(link, from: relative) else { throw fail("symlink \(relative) -> \(link) points outside the source tree") }
                    unlink(target)
                    guard symlink(link, target) == 0 else { throw fail("cannot create symlink \(relative)") }
                case .hardlink:
                    let source = try safeRelativePath(member.linkTarget ?? "", fail: fail)
                    var info = stat()
                    guard !source.isEmpty, lstat(root + "/" + source, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
                        throw fail("hard link \(relative) names \(member.linkTarget ?? ""), which is not a file it holds")
                    }
                    unlink(target)
                    guard link(root + "/" + source, target) == 0 else { throw fail("cannot create hard link \(relative)") }
                case .other:
                    throw fail("\(relative) is a device, fifo or socket")
                }
            }
        } catch let error as PipError {
            throw error
        } catch let error as ArchiveError {
            throw PipError.build("\(fileName): \(error)")
        }
    }

    /// A member path made relative and checked: no absolute paths, no `..`.
    static func safeRelativePath(_ path: String, fail: (String) -> PipError) throws -> String {
        switch MemberPath.relative(path) {
        case let .success(relative): return relative
        case .failure(.absolute): throw fail("member \(path) has an absolute path")
        case .failure(.climbs): throw fail("member \(path) climbs out of the source tree with '..'")
        }
    }

    /// No member is written through a symlink an earlier member made, even one that stays inside: a later
    /// member could otherwise retarget it.
    static func checkParents(_ relative: String, root: String, fail: (String) -> PipError) throws {
        var path = root
        for part in relative.split(separator: "/").dropLast() {
            path += "/" + part
            var info = stat()
            if lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFLNK {
                throw fail("member \(relative) is written through the symlink \(part)")
            }
        }
    }

    /// The single top-level directory holding `pyproject.toml` or `setup.py`.
    static func projectDirectory(in root: String, fileName: String) throws -> String {
        let top = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let candidates = top.filter { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: root + "/" + name, isDirectory: &isDirectory) && isDirectory.boolValue
        }
        guard candidates.count == 1, let name = candidates.first, top.count == 1 else {
            throw PipError.build("\(fileName): a source distribution holds one top-level directory, but this has \(top.count) entries")
        }
        let project = root + "/" + name
        guard ["pyproject.toml", "setup.py"].contains(where: { FileManager.default.fileExists(atPath: project + "/" + $0) }) else {
            throw PipError.build("\(fileName): \(name)/ has neither pyproject.toml nor setup.py, so there is nothing to build")
        }
        return project
    }
}
