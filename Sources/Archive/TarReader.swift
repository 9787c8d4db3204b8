import CArchive
import OCI
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A member header read from a tar stream.
public struct TarMember: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case file, directory, symlink, hardlink, other }
    public var path: String
    public var kind: Kind
    public var mode: UInt32
    public var size: Int64
    public var linkTarget: String?
    public var uid: Int64
    public var gid: Int64
    public var mtime: Int64
}

/// Reads a tar file, compressed with gzip, zstd or bzip2 or not at all, member by member.
public final class TarReader {
    private let archive: OpaquePointer
    private let what: String
    private let strictNames: Bool
    /// The gzip decoder feeding libarchive, when the file is gzip (kept alive for the read).
    private let gzip: GzipFileReader?

    /// `zip` also accepts a ZIP archive (a `.conda` package's outer container). `strictNames` refuses a
    /// member whose name is not UTF-8 (packages); otherwise such a name is read with replacement
    /// characters (image layers, which Kiln only scans).
    public init(path: String, zip: Bool = false, strictNames: Bool = false) throws {
        guard let archive = archive_read_new() else { throw ArchiveError.read(path, detail: "archive_read_new failed") }
        self.archive = archive
        self.what = path
        self.strictNames = strictNames
        archive_read_support_filter_all(archive)
        archive_read_support_format_tar(archive)
        archive_read_support_format_gnutar(archive)
        if zip { archive_read_support_format_zip(archive) }
        gzip = GzipFileReader(path: path)
        guard (gzip.map { $0.attach(to: archive) } ?? archive_read_open_filename(archive, path, 1 << 20)) == ARCHIVE_OK else {
            // Every stored property is set, so `deinit` runs and frees the handle; freeing it here too was a double free.
            let message = archive_error_string(archive).map { String(cString: $0) } ?? "cannot open"
            throw ArchiveError.read(path, detail: message)
        }
    }

    deinit { archive_read_free(archive) }

    private func failure() -> ArchiveError {
        .read(what, detail: archive_error_string(archive).map { String(cString: $0) } ?? "unknown error")
    }

    /// A name libarchive holds, from its UTF-8 form or else its raw bytes, which must be UTF-8 under `strictNames`.
    func name(_ utf8: UnsafePointer<CChar>?, _ raw: UnsafePointer<CChar>?) throws -> String? {
        guard let pointer = utf8 ?? raw else { return nil }
        guard let text = String(validatingCString: pointer) else {
            guard strictNames else { return String(cString: pointer) }
            let bytes = UnsafeBufferPointer(start: pointer, count: strlen(pointer)).map { UInt8(bitPattern: $0) }
            throw ArchiveError.hostileMember(ArchiveError.escaped(bytes), reason: "its name is not valid UTF-8")
        }
        return text
    }

    /// The next member, or nil at the end of the archive.
    public func next() throws -> TarMember? {
        var entry: OpaquePointer?
        let status = UTF8Locale.with { archive_read_next_header(archive, &entry) }
        if status == ARCHIVE_EOF { return nil }
        guard status >= ARCHIVE_WARN, let entry else { throw failure() }
        var kind: TarMember.Kind
        switch UInt32(archive_entry_filetype(entry)) {
        case KILN_AE_IFREG: kind = .file
        case KILN_AE_IFDIR: kind = .directory
        case KILN_AE_IFLNK: kind = .symlink
        default: kind = .other
        }
        // Names are converted under C.UTF-8 whatever the process locale. The _utf8 forms answer when a name
        // is stored as pax UTF-8 and the plain forms return NULL; a name that is UTF-8 in neither is refused.
        let (path, hardlink, symlink) = try UTF8Locale.with {
            (try name(archive_entry_pathname_utf8(entry), archive_entry_pathname(entry)) ?? "",
             try name(archive_entry_hardlink_utf8(entry), archive_entry_hardlink(entry)),
             kind == .symlink ? try name(archive_entry_symlink_utf8(entry), archive_entry_symlink(entry)) : nil)
        }
        var target: String?
        if let hardlink {
            kind = .hardlink
            target = hardlink
        } else if let symlink {
            target = symlink
        }
        return TarMember(path: path, kind: kind, mode: UInt32(archive_entry_perm(entry)), size: archive_entry_size(entry),
                         linkTarget: target, uid: archive_entry_uid(entry), gid: archive_entry_gid(entry),
                         mtime: Int64(archive_entry_mtime(entry)))
    }

    /// Streams the current member's data to `body`.
    public func readData(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try readDataBlocks(archive, failure: failure, body)
    }

    /// The SHA-256 of the current member's data.
    public func digestData() throws -> Digest {
        var counter = DigestCounter()
        try readData { counter.update($0) }
        return counter.finalize()
    }
}

/// Streams the decompressed bytes of a (possibly compressed) file: the layer tar inside a blob.
public enum Decompressor {
    public static func stream(path: String, into body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let archive = archive_read_new() else { throw ArchiveError.read(path, detail: "archive_read_new failed") }
        defer { archive_read_free(archive) }
        archive_read_support_filter_all(archive)
        archive_read_support_format_raw(archive)
        func failure() -> ArchiveError {
            .read(path, detail: archive_error_string(archive).map { String(cString: $0) } ?? "unknown error")
        }
        let gzip = GzipFileReader(path: path)
        guard (gzip.map { $0.attach(to: archive) } ?? archive_read_open_filename(archive, path, 1 << 20)) == ARCHIVE_OK else { throw failure() }
        defer { withExtendedLifetime(gzip) {} }
        var entry: OpaquePointer?
        let status = UTF8Locale.with { archive_read_next_header(archive, &entry) }
        if status == ARCHIVE_EOF { return }
        guard status >= ARCHIVE_WARN else { throw failure() }
        try readDataBlocks(archive, failure: failure, body)
    }

    /// The diffID and size of a layer blob: the SHA-256 and length of its decompressed tar.
    public static func diffID(path: String) throws -> (digest: Digest, size: Int64) {
        var counter = DigestCounter()
        try stream(path: path) { counter.update($0) }
        return (counter.finalize(), counter.count)
    }
}

/// Hands the current entry's data to `body`, block by block, as libarchive decodes it.
private func readDataBlocks(_ archive: OpaquePointer, failure: () -> ArchiveError,
                            _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
    var buffer: UnsafeRawPointer?
    var size = 0
    var offset: la_int64_t = 0
    while true {
        let status = archive_read_data_block(archive, &buffer, &size, &offset)
        if status == ARCHIVE_EOF { return }
        guard status >= ARCHIVE_WARN else { throw failure() }
        if size > 0 { try body(UnsafeRawBufferPointer(start: buffer, count: size)) }
    }
}
