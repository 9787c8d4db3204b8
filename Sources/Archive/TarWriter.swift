import CArchive
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a POSIX pax tar stream into a `ByteSink` through libarchive.
///
/// "pax restricted" writes plain ustar headers and adds a pax extended header only where ustar cannot
/// say it: paths over 100/155 bytes and files of 8 GiB or more. Headers carry only what the caller sets,
/// so there is no atime, ctime, uname, gname or xattr, and every header uses `mtime` and uid/gid 0.
public final class TarWriter {
    private let archive: OpaquePointer
    private let sink: ByteSink
    private let mtime: Int64
    private var sinkError: Error?
    private var closed = false

    public init(sink: ByteSink, mtime: Int64) throws {
        guard let archive = archive_write_new() else { throw ArchiveError.write("archive_write_new failed") }
        self.archive = archive
        self.sink = sink
        self.mtime = mtime
        archive_write_set_format_pax_restricted(archive)
        archive_write_add_filter_none(archive)
        archive_write_set_bytes_in_last_block(archive, 1)
        // No 10 KiB output blocking: each header and data piece goes straight to the sink (the bytes are
        // the same; only the number of calls drops, from about 100,000 per GiB).
        archive_write_set_bytes_per_block(archive, 0)
        let opaque = Unmanaged.passUnretained(self).toOpaque()
        let status = archive_write_open2(archive, opaque, nil, { _, client, buffer, length in
            guard let client, let buffer else { return -1 }
            let writer = Unmanaged<TarWriter>.fromOpaque(client).takeUnretainedValue()
            do {
                try writer.sink.write(UnsafeRawBufferPointer(start: buffer, count: length))
                return length
            } catch {
                writer.sinkError = error
                return -1
            }
        }, nil, nil)
        guard status == ARCHIVE_OK else {
            archive_write_free(archive)
            throw ArchiveError.write("archive_write_open failed")
        }
    }

    deinit {
        archive_write_free(archive)
    }

    /// A header with the fixed metadata every member shares.
    private func header(path: String, type: UInt32, mode: UInt32) -> OpaquePointer? {
        guard let entry = archive_entry_new() else { return nil }
        // Names go in as bytes (the "multibyte" form) and are written under C.UTF-8 (UTF8Locale), so they reach
        // the PAX header unchanged: libarchive's `_utf8` setters normalize to NFC when the name is read back,
        // which would turn a decomposed "é" (e + U+0301) into another name.
        archive_entry_copy_pathname(entry, path)
        archive_entry_set_filetype(entry, type)
        archive_entry_set_perm(entry, mode_t(mode))
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        archive_entry_set_mtime(entry, time_t(mtime), 0)
        return entry
    }

    private func check(_ status: Int32, _ what: String) throws {
        if let sinkError { throw sinkError }
        guard status >= ARCHIVE_WARN else {
            let message = archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
            throw ArchiveError.write("\(what): \(message)")
        }
    }

    /// Writes a member that has no data: a directory, a symlink or a hard link.
    public func addHeaderOnly(_ entry: LayerEntry) throws {
        let type: UInt32
        switch entry.kind {
        case .directory: type = KILN_AE_IFDIR
        case .symlink: type = KILN_AE_IFLNK
        case .hardlink: type = KILN_AE_IFREG
        case .file, .member, .range, .data: throw ArchiveError.write("\(entry.path): a file member needs its data (use addFile)")
        }
        guard let header = header(path: entry.path, type: type, mode: entry.mode) else { throw ArchiveError.write("out of memory") }
        defer { archive_entry_free(header) }
        switch entry.kind {
        case let .symlink(target): archive_entry_copy_symlink(header, target)
        case let .hardlink(target):
            archive_entry_copy_hardlink(header, target)
            archive_entry_set_size(header, 0)
        default: break
        }
        try check(UTF8Locale.with { archive_write_header(archive, header) }, entry.path)
    }

    /// Writes a regular file member of `size` bytes, whose data `produce` hands over in pieces.
    public func addFile(path: String, mode: UInt32, size: Int64,
                        produce: (_ write: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        guard let header = header(path: path, type: KILN_AE_IFREG, mode: mode) else { throw ArchiveError.write("out of memory") }
        defer { archive_entry_free(header) }
        archive_entry_set_size(header, la_int64_t(size))
        try check(UTF8Locale.with { archive_write_header(archive, header) }, path)
        var written: Int64 = 0
        try produce { bytes in
            guard written + Int64(bytes.count) <= size else { throw ArchiveError.changedDuringBuild(path) }
            let result = archive_write_data(archive, bytes.baseAddress, bytes.count)
            if result < 0 || result != bytes.count { try check(Int32(ARCHIVE_FATAL), path) }
            written += Int64(bytes.count)
        }
        guard written == size else { throw ArchiveError.changedDuringBuild(path) }
    }

    /// Writes the end-of-archive blocks and finishes the sink chain.
    public func finish() throws {
        guard !closed else { return }
        closed = true
        try check(archive_write_close(archive), "closing archive")
        try sink.finish()
    }
}
