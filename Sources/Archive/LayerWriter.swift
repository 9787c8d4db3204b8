import OCI
import Plan
import Progress
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A layer blob written to disk, with both of its digests.
public struct LayerBlob: Sendable, Equatable {
    /// sha256 of the compressed blob: the manifest's layer digest.
    public var digest: Digest
    /// sha256 of the uncompressed tar: the config's diff_id.
    public var diffID: Digest
    public var size: Int64
    public var uncompressedSize: Int64
    public var mediaType: String
    public var path: String

    public var descriptor: Descriptor { Descriptor(mediaType: mediaType, digest: digest, size: size) }
}

/// Writes a layer in one pass: tar → diffID hash → compressor → digest hash → file (and, when given, a
/// `LayerStream` beside the file, such as a registry upload). Memory use is a few fixed buffers, whatever
/// the size of the inputs.
public enum LayerWriter {
    static let readChunk = 1 << 20

    public static func write(entries: [LayerEntry], compression: LayerCompression, mtime: Int64,
                             to path: String, progress: ProgressStep? = nil, stream: LayerStream? = nil) throws -> LayerBlob {
        let blob: LayerBlob
        do {
            blob = try writeBlob(entries: entries, compression: compression, mtime: mtime, to: path, progress: progress, stream: stream)
        } catch {
            stream?.abandon()
            throw error
        }
        // The digest is known only now: the stream can complete its upload with it.
        stream?.finish(digest: blob.digest, size: blob.size)
        return blob
    }

    /// The pipeline itself; on failure the partial file is removed.
    private static func writeBlob(entries: [LayerEntry], compression: LayerCompression, mtime: Int64, to path: String,
                                  progress: ProgressStep?, stream: LayerStream?) throws -> LayerBlob {
        let blobFile = try FileSink(path: path)
        blobFile.reserve(blobSizeGuess(entries, compression: compression))
        var file: ByteSink = blobFile
        if let stream { file = TeeSink(next: file, side: stream) }
        let blobHash = HashingSink(next: file)
        // The compressed stream is hashed and written on its own thread, beside the tar's hashing.
        let compressor = try makeCompressor(compression, next: BackgroundSink(next: blobHash))
        let tarHash = HashingSink(next: compressor)
        let tar = try TarWriter(sink: tarHash, mtime: mtime)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readChunk, alignment: 16)
        defer { buffer.deallocate() }
        var directory = ParentDirectory()
        defer { directory.close() }
        let members = MemberReader(chunk: readChunk / 4)
        let ranges = RangeReader()
        let prefetcher = FilePrefetcher.start(entries)
        defer { prefetcher?.stop() }
        do {
            for (index, entry) in entries.enumerated() {
                switch entry.kind {
                case let .file(source, size):
                    // The tar writer knows the image path; a file that changed is named by its host path.
                    try naming(source, for: entry.path) {
                        switch FilePrefetcher.wanted(entry) ? prefetcher?.take(index) : nil {
                        case let .bytes(bytes)?:
                            try tar.addFile(path: entry.path, mode: entry.mode, size: size) { write in
                                try bytes.withUnsafeBytes { try write($0) }
                                progress?.advance(by: Int64(bytes.count))
                            }
                        case let .failed(error)?:
                            throw error
                        case nil:
                            try tar.addFile(path: entry.path, mode: entry.mode, size: size) { write in
                                try copyFile(source, size: size, buffer: buffer, directory: &directory) { piece in
                                    try write(piece)
                                    progress?.advance(by: Int64(piece.count))
                                }
                            }
                        }
                    }
                case let .member(member):
                    try tar.addFile(path: entry.path, mode: entry.mode, size: member.size) { write in
                        try copyMember(member, reader: members, splicingInto: compressor as? GzipSink, tarHash: tarHash) { piece in
                            try write(piece)
                            progress?.advance(by: Int64(piece.count))
                        }
                    }
                case let .range(range):
                    try tar.addFile(path: entry.path, mode: entry.mode, size: range.size) { write in
                        try ranges.read(range, buffer: buffer) { piece in
                            try write(piece)
                            progress?.advance(by: Int64(piece.count))
                        }
                    }
                case let .data(bytes):
                    try tar.addFile(path: entry.path, mode: entry.mode, size: Int64(bytes.count)) { write in
                        try bytes.withUnsafeBytes { try write($0) }
                        progress?.advance(by: Int64(bytes.count))
                    }
                default:
                    try tar.addHeaderOnly(entry)
                }
            }
            try tar.finish()
        } catch {
            unlink(path)
            throw error
        }
        return LayerBlob(digest: blobHash.digest, diffID: tarHash.digest, size: blobHash.count,
                         uncompressedSize: tarHash.count, mediaType: compression.ociMediaType, path: path)
    }

    /// The blob's size if nothing compresses, for `FileSink.reserve`: each entry's header and data padded to
    /// 512 bytes, the tar's end, and stored deflate's 5 bytes per 65,535. Long names' extra headers are
    /// left out: this is a hint.
    static func blobSizeGuess(_ entries: [LayerEntry], compression: LayerCompression) -> Int64 {
        var tar: Int64 = 1024
        for entry in entries { tar += 512 + (entry.fileSize + 511) / 512 * 512 }
        return compression == .none ? tar : tar + tar / 65_535 * 5 + 64
    }

    /// Runs `body`, turning the tar writer's "changed" error for `path` into one that names `source`.
    static func naming(_ source: SourcePath, for path: String, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch ArchiveError.changedDuringBuild(path) {
            throw ArchiveError.changedDuringBuild(source.path)
        }
    }

    /// Members whose deflate data is at least this long go into a gzip layer as they are, in a gzip member of
    /// their own; shorter ones are inflated into the stream, where a member's ~40 bytes of framing would
    /// cost more than recompressing them. A zip deflates each file on its own, so splicing loses nothing
    /// of the compression.
    static let spliceMinimum: Int64 = 4 << 10

    /// Writes `member`'s bytes to the tar (`write`). When the layer is gzip and the member is long deflate data,
    /// that data is spliced into the gzip stream as it is, and the tar sees the inflated bytes only for the diffID.
    static func copyMember(_ member: ArchiveMember, reader: MemberReader, splicingInto gzip: GzipSink?, tarHash: HashingSink,
                           write: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let gzip, member.method == 8, member.compressedSize >= spliceMinimum else {
            return try reader.read(member, raw: nil, through: tarHash, write: write)
        }
        try gzip.beginSplice()
        tarHash.forwarding = false
        defer { tarHash.forwarding = true }
        try reader.read(member, raw: { try gzip.writeSpliced($0) }, through: tarHash, write: write)
        try gzip.endSplice(crc: member.crc32, size: member.size)
    }

    static func copyFile(_ source: SourcePath, size: Int64, buffer: UnsafeMutableRawBufferPointer, directory: inout ParentDirectory,
                         into write: (UnsafeRawBufferPointer) throws -> Void) throws {
        let fd = directory.open(source)
        guard fd >= 0 else {
            throw ArchiveError.reading(source.path, errno: errno)
        }
        defer { close(fd) }
        // Read-ahead advice pays only for files longer than one read.
        if size > Int64(buffer.count) { posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) }
        while true {
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw ArchiveError.reading(source.path, errno: errno)
            }
            if count == 0 { return }
            try write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }
}

/// The directory of the last file read, kept open: entries come sorted by path, so neighbours mostly share
/// a directory, and opening each by its name in it spares the kernel a walk of the whole path per file.
struct ParentDirectory {
    private var directory: SourcePath.Directory?
    private var path = ""
    private var fd: Int32 = -1

    /// Opens `source` for reading; errno is set as `open(2)` sets it. A file the walk found is opened without
    /// following a symlink (ELOOP: it was swapped for one since) and without blocking (a FIFO put in its place
    /// then reads short instead of hanging the build); a path named whole (an input file itself, a package
    /// cache's file) is opened as it is.
    mutating func open(_ source: SourcePath) -> Int32 {
        let flags = O_RDONLY | O_CLOEXEC
        if let shared = source.directory {
            // Files of one walked directory share its object: no path to compare.
            if shared !== directory { reopen(shared.path, directory: shared) }
            let walked = flags | O_NOFOLLOW | O_NONBLOCK
            guard fd >= 0 else { return LongPath.open(source.path, walked) }
            return openat(fd, source.name, walked)
        }
        let whole = source.name
        guard let slash = whole.lastIndex(of: "/"), slash != whole.startIndex else { return LongPath.open(whole, flags) }
        let parent = String(whole[..<slash])
        if parent != path || directory != nil { reopen(parent, directory: nil) }
        guard fd >= 0 else { return LongPath.open(whole, flags) }
        return openat(fd, String(whole[whole.index(after: slash)...]), flags)
    }

    private mutating func reopen(_ parent: String, directory shared: SourcePath.Directory?) {
        close()
        fd = LongPath.open(parent, LongPath.pathOnly | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            path = parent
            directory = shared
        }
    }

    mutating func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        path = ""
        directory = nil
    }
}
