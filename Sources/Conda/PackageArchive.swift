import Archive
import Foundation

/// Unpacks a conda package (`.tar.bz2`, or `.conda`: a ZIP holding `info-*.tar.zst` and `pkg-*.tar.zst`)
/// into a directory: `info/` as files, the rest into one pack (`PackageFiles`). Any member that would land
/// outside the package is refused: absolute paths, `..`, and symlinks or hard links whose target leaves it.
///
/// A package cannot expand past what it declares: `info/` is read first, then every other file is bounded
/// by the `size_in_bytes` that `info/paths.json` gives it, checked against the member's tar header before a
/// byte is written (a small archive whose member inflates to gigabytes is refused at once, not after
/// filling the disk). See `Budget` for files without a declared size.
public enum PackageArchive {
    /// The most `info/` may hold. Real info directories are kilobytes to a few megabytes (recipes, test
    /// files, licenses); this only stops a bomb hidden there.
    static let maxInfoSize: Int64 = 512 << 20
    /// The largest `info/paths.json` read for sizes (about a million paths); a bigger one would cost
    /// gigabytes to decode.
    static let maxPathsJSONSize: Int64 = 128 << 20
    /// Bytes that files `info/paths.json` does not list may take together. Real packages list every
    /// file; this leaves room for one that does not without letting it carry a bomb.
    static let undeclaredAllowance: Int64 = 64 << 20

    /// What a package without sizes to go by (no `info/paths.json`: packages from before conda-build 3)
    /// may expand to, and how much a `.tar.bz2` may make Kiln decompress while looking for a late `info/`:
    /// 200 times the archive, and at least 1 GiB. Real packages compress 2 to 10 times.
    static func expansionLimit(archiveSize: Int64) -> Int64 {
        max(1 << 30, archiveSize.multipliedReportingOverflow(by: 200).overflow ? Int64.max : archiveSize * 200)
    }

    /// Extracts `archive` into `directory` (replacing it); nothing is left there if it fails. The installer
    /// extracts into a private sibling and renames it into place (`Installer.extractShared`).
    public static func extract(_ archive: URL, into directory: URL) throws {
        let name = archive.lastPathComponent
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            let size = (try? FileManager.default.attributesOfItem(atPath: archive.path)[.size] as? NSNumber)?.int64Value ?? 0
            if name.hasSuffix(".conda") {
                try extractConda(archive, into: directory, archiveSize: size)
            } else {
                try extractTarBz2(archive.path, into: directory, what: name, archiveSize: size)
            }
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    /// The inner tarballs are copied out of the zip first (stored, so together no larger than the
    /// `.conda`; a deflated one that grows past that is a bomb), then `info-*` is extracted, then `pkg-*`
    /// within the budget `info/paths.json` sets.
    static func extractConda(_ archive: URL, into directory: URL, archiveSize: Int64) throws {
        var what = archive.lastPathComponent
        let reader = try TarReader(path: archive.path, zip: true, strictNames: true)
        var inner: [String] = []
        defer { for path in inner { unlink(path) } }
        var copied: Int64 = 0
        while let member = try reader.next() {
            let base = (member.path as NSString).lastPathComponent
            guard member.kind == .file, base.hasSuffix(".tar.zst"), base.hasPrefix("pkg-") || base.hasPrefix("info-") else { continue }
            // The cached archive is named by its hash; the inner names give the package's own name for messages.
            what = String(base.drop { $0 != "-" }.dropFirst().dropLast(8)) + ".conda"
            let temporary = directory.appendingPathComponent(".\(base)").path
            let sink = try FileSink(path: temporary)
            inner.append(temporary)
            try reader.readData { bytes in
                copied += Int64(bytes.count)
                guard copied <= archiveSize else {
                    throw CondaError.package("\(what): \(base) expands past the size of the package (\(archiveSize) bytes)")
                }
                try sink.write(bytes)
            }
            try sink.finish()
        }
        let infos = inner.filter { $0.contains("/.info-") }.sorted(), pkgs = inner.filter { $0.contains("/.pkg-") }.sorted()
        guard !infos.isEmpty else {
            throw CondaError.package("\(what) is not a conda v2 package (no info-*.tar.zst)")
        }
        var info = Budget.info
        for path in infos { try extractTar(path, into: directory, what: what, budget: &info) { _ in .extract } }
        var budget = try Budget.package(directory, what: what, archiveSize: archiveSize)
        let pack = try PackageFilesWriter(directory: directory)
        // info/ comes only from info-*.tar.zst: a pkg member there would replace what the budget was made from.
        for path in pkgs {
            try extractTar(path, into: directory, pack: pack, what: what, budget: &budget) { $0 == "info" || $0.hasPrefix("info/") ? .skip : .extract }
        }
        try pack.finish()
        for path in inner { unlink(path) }
        inner = []
    }

    /// A `.tar.bz2` has `info/` wherever its builder put it: first (conda-package-handling and
    /// rattler-build), or in name order among the files (conda-build before 3.18). So two passes: the
    /// first writes `info/` and stops at the first file after it, skipping (decompressing, not writing) any
    /// files before it within `expansionLimit`; the second writes the rest within the budget `info/`
    /// set. An info-first package costs one extra pass over its small `info/` part.
    static func extractTarBz2(_ path: String, into directory: URL, what: String, archiveSize: Int64) throws {
        var info = Budget.info
        var skipped = Budget(declared: [:], remaining: expansionLimit(archiveSize: archiveSize),
                             rule: "files before info/ (at most \(expansionLimit(archiveSize: archiveSize)) bytes)")
        var seenInfo = false
        try extractTar(path, into: directory, what: what, budget: &info) { relative in
            if relative == "info" || relative.hasPrefix("info/") { seenInfo = true; return .extract }
            return seenInfo ? .stop : .skip
        } skipping: { member, relative in
            _ = try skipped.limit(for: member, relative: relative, what: what)
        }
        var label = what
        if let data = FileManager.default.contents(atPath: directory.appendingPathComponent("info/index.json").path),
           let index = try? JSONDecoder().decode([String: JSONValue].self, from: data),
           let name = index["name"]?.string, let version = index["version"]?.string, let build = index["build"]?.string {
            label = "\(name)-\(version)-\(build).tar.bz2"
        }
        var budget = try Budget.package(directory, what: label, archiveSize: archiveSize)
        let pack = try PackageFilesWriter(directory: directory)
        try extractTar(path, into: directory, pack: pack, what: label, budget: &budget) { $0 == "info" || $0.hasPrefix("info/") ? .skip : .extract }
        try pack.finish()
    }

    /// What to do with a member, by its relative path.
    enum Action { case extract, skip, stop }

    /// Extracts the members `action` picks, each within `budget`, as files under `directory`, or into `pack` when
    /// given; `skipping` sees the ones it skips.
    static func extractTar(_ path: String, into directory: URL, pack: PackageFilesWriter? = nil, what: String, budget: inout Budget,
                           action: (String) -> Action,
                           skipping: (TarMember, String) throws -> Void = { _, _ in }) throws {
        let reader: TarReader
        do { reader = try TarReader(path: path, strictNames: true) } catch { throw CondaError.package("\(what): \(error)") }
        let root = directory.standardizedFileURL.path
        // Each directory is made once, and a path is unlinked only when something is already there (a member
        // twice in the tar): on a fresh tree those were a few system calls a file that all failed.
        var made = Set<String>()
        while let member = try reader.next() {
            let relative = try safeRelativePath(member.path, what: what)
            if relative.isEmpty { continue }
            switch action(relative) {
            case .stop: return
            case .skip:
                if member.kind == .file { try skipping(member, relative) }
                continue
            case .extract: break
            }
            if let pack {
                try add(member, relative: relative, reader: reader, to: pack, what: what, budget: &budget)
                continue
            }
            let target = root + "/" + relative
            let parent = MemberPath.parent(of: target)
            if made.insert(parent).inserted { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
            switch member.kind {
            case .directory:
                if made.insert(target).inserted { try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true) }
            case .file:
                let limit = try budget.limit(for: member, relative: relative, what: what)
                let sink = try FileSink(replacing: target, mode: mode_t(member.mode & 0o7777))
                var written: Int64 = 0
                try reader.readData { bytes in
                    written += Int64(bytes.count)
                    // The header was within the budget; the data may not outgrow the header (sparse members).
                    guard written <= limit else { throw CondaError.package("\(what): \(relative) expands past its declared \(limit) bytes") }
                    try sink.write(bytes)
                }
                try sink.finish()
            case .symlink:
                let link = try checkedLink(member, relative: relative, what: what)
                guard symlink(link, target) == 0 || (errno == EEXIST && unlink(target) == 0 && symlink(link, target) == 0) else {
                    throw CondaError.package("\(what): cannot create symlink \(member.path)")
                }
            case .hardlink:
                let source = try safeRelativePath(member.linkTarget ?? "", what: what)
                guard !source.isEmpty, link(root + "/" + source, target) == 0 || (errno == EEXIST && unlink(target) == 0 && link(root + "/" + source, target) == 0) else {
                    throw CondaError.package("\(what): hard link \(member.path) names a missing member")
                }
            case .other:
                throw CondaError.package("\(what): \(member.path) is a device, fifo or socket")
            }
        }
    }

    /// `member` into `pack`, under the same checks as a member written as a file.
    static func add(_ member: TarMember, relative: String, reader: TarReader, to pack: PackageFilesWriter, what: String,
                    budget: inout Budget) throws {
        switch member.kind {
        case .directory:
            pack.addDirectory(relative, mode: member.mode)
        case .file:
            let limit = try budget.limit(for: member, relative: relative, what: what)
            try pack.addFile(relative, mode: member.mode) { write in
                var written: Int64 = 0
                try reader.readData { bytes in
                    written += Int64(bytes.count)
                    guard written <= limit else { throw CondaError.package("\(what): \(relative) expands past its declared \(limit) bytes") }
                    try write(bytes)
                }
            }
        case .symlink:
            pack.addSymlink(relative, link: try checkedLink(member, relative: relative, what: what))
        case .hardlink:
            let source = try safeRelativePath(member.linkTarget ?? "", what: what)
            guard !source.isEmpty, pack.addHardlink(relative, to: source) else {
                throw CondaError.package("\(what): hard link \(member.path) names a missing member")
            }
        case .other:
            throw CondaError.package("\(what): \(member.path) is a device, fifo or socket")
        }
    }

    /// A symlink member's target, refused when empty or leaving the package.
    static func checkedLink(_ member: TarMember, relative: String, what: String) throws -> String {
        let link = member.linkTarget ?? ""
        guard !link.isEmpty else { throw CondaError.package("\(what): symlink \(member.path) has an empty target") }
        guard MemberPath.linkStays(link, from: relative) else {
            throw CondaError.package("\(what): symlink \(member.path) -> \(link) points outside the package")
        }
        return link
    }

    /// The bytes a package may write. A file `info/paths.json` sizes may hold that many bytes (once: a
    /// second member of the same path counts as undeclared); other files share `remaining`.
    struct Budget {
        var declared: [String: Int64]
        var remaining: Int64
        /// What `remaining` is for, in messages.
        var rule: String

        static var info: Budget { Budget(declared: [:], remaining: maxInfoSize, rule: "info/ (at most \(maxInfoSize) bytes)") }

        /// From the extracted `info/paths.json` in `directory`; without one, `expansionLimit` for all.
        static func package(_ directory: URL, what: String, archiveSize: Int64) throws -> Budget {
            if let declared = try PackageInfo.declaredSizes(directory, what: what, limit: maxPathsJSONSize) {
                return Budget(declared: declared, remaining: undeclaredAllowance,
                              rule: "files info/paths.json does not list (at most \(undeclaredAllowance) bytes)")
            }
            let limit = expansionLimit(archiveSize: archiveSize)
            return Budget(declared: [:], remaining: limit, rule: "a package without info/paths.json (at most \(limit) bytes)")
        }

        /// The most bytes `member` may write; refused before any is written when its header says more.
        mutating func limit(for member: TarMember, relative: String, what: String) throws -> Int64 {
            if let size = declared.removeValue(forKey: relative) {
                guard member.size <= size else {
                    throw CondaError.package("\(what): \(relative) is \(member.size) bytes, but info/paths.json declares \(size)")
                }
                return size
            }
            guard member.size <= remaining else {
                throw CondaError.package("\(what): \(relative) is \(member.size) bytes, more than is left for \(rule)")
            }
            remaining -= member.size
            return member.size
        }
    }

    /// A member path made relative and checked: no absolute paths, no `..`.
    static func safeRelativePath(_ path: String, what: String) throws -> String {
        switch MemberPath.relative(path) {
        case let .success(relative): return relative
        case .failure(.absolute): throw CondaError.package("\(what): member \(path) has an absolute path")
        case .failure(.climbs): throw CondaError.package("\(what): member \(path) climbs out of the package with '..'")
        }
    }
}
