import Archive
import Foundation

/// Unpacks a conda package (`.tar.bz2`, or `.conda`: a ZIP holding `info-*.tar.zst` and `pkg-*.tar.zst`)
/// into a directory, refusing any member that would land outside it: absolute paths, `..`, and
/// symlinks or hard links whose target leaves the package.
public enum PackageArchive {
    public static func extract(_ archive: URL, into directory: URL) throws {
        let name = archive.lastPathComponent
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            if name.hasSuffix(".conda") {
                try extractConda(archive, into: directory)
            } else {
                try extractTar(archive.path, into: directory, what: name)
            }
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    static func extractConda(_ archive: URL, into directory: URL) throws {
        let name = archive.lastPathComponent
        let reader = try TarReader(path: archive.path, zip: true, strictNames: true)
        var inner: [String] = []
        defer { for path in inner { unlink(path) } }
        while let member = try reader.next() {
            let base = (member.path as NSString).lastPathComponent
            guard member.kind == .file, base.hasSuffix(".tar.zst"), base.hasPrefix("pkg-") || base.hasPrefix("info-") else { continue }
            let temporary = directory.appendingPathComponent(".\(base)").path
            let sink = try FileSink(path: temporary)
            inner.append(temporary)
            try reader.readData { try sink.write($0) }
            try sink.finish()
        }
        guard inner.contains(where: { $0.contains("/.info-") }) else {
            throw CondaError.package("\(name) is not a conda v2 package (no info-*.tar.zst)")
        }
        for path in inner.sorted() { try extractTar(path, into: directory, what: name) }
        for path in inner { unlink(path) }
        inner = []
    }

    static func extractTar(_ path: String, into directory: URL, what: String) throws {
        let reader: TarReader
        do { reader = try TarReader(path: path, strictNames: true) } catch { throw CondaError.package("\(what): \(error)") }
        let root = directory.standardizedFileURL.path
        while let member = try reader.next() {
            let relative = try safeRelativePath(member.path, what: what)
            if relative.isEmpty { continue }
            let target = root + "/" + relative
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            switch member.kind {
            case .directory:
                try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            case .file:
                unlink(target)
                let sink = try FileSink(path: target)
                try reader.readData { try sink.write($0) }
                try sink.finish()
                chmod(target, mode_t(member.mode & 0o7777))
            case .symlink:
                let link = member.linkTarget ?? ""
                guard !link.isEmpty else { throw CondaError.package("\(what): symlink \(member.path) has an empty target") }
                guard Self.stays(link, from: relative) else {
                    throw CondaError.package("\(what): symlink \(member.path) -> \(link) points outside the package")
                }
                unlink(target)
                guard symlink(link, target) == 0 else { throw CondaError.package("\(what): cannot create symlink \(member.path)") }
            case .hardlink:
                let source = try safeRelativePath(member.linkTarget ?? "", what: what)
                unlink(target)
                guard !source.isEmpty, link(root + "/" + source, target) == 0 else {
                    throw CondaError.package("\(what): hard link \(member.path) names a missing member")
                }
            case .other:
                throw CondaError.package("\(what): \(member.path) is a device, fifo or socket")
            }
        }
    }

    /// A member path made relative and checked: no absolute paths, no `..`.
    static func safeRelativePath(_ path: String, what: String) throws -> String {
        guard !path.hasPrefix("/") else { throw CondaError.package("\(what): member \(path) has an absolute path") }
        let parts = path.split(separator: "/").filter { $0 != "." }
        guard !parts.contains("..") else { throw CondaError.package("\(what): member \(path) climbs out of the package with '..'") }
        return parts.joined(separator: "/")
    }

    /// Whether a symlink at `relative` with text `link` resolves inside the package.
    static func stays(_ link: String, from relative: String) -> Bool {
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
