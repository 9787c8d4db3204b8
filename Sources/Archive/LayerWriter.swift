import OCI
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

/// Writes a layer in one pass: tar → diffID hash → compressor → digest hash → file.
/// Memory use is a few fixed buffers, whatever the size of the inputs.
public enum LayerWriter {
    static let readChunk = 1 << 20

    public static func write(entries: [LayerEntry], compression: LayerCompression, mtime: Int64,
                             to path: String, progress: ProgressStep? = nil) throws -> LayerBlob {
        let file = try FileSink(path: path)
        let blobHash = HashingSink(next: file)
        // The compressed stream is hashed and written on its own thread, beside the tar's hashing.
        let compressor = try makeCompressor(compression, next: BackgroundSink(next: blobHash))
        let tarHash = HashingSink(next: compressor)
        let tar = try TarWriter(sink: tarHash, mtime: mtime)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readChunk, alignment: 16)
        defer { buffer.deallocate() }
        do {
            for entry in entries {
                guard case let .file(source, size) = entry.kind else {
                    try tar.addHeaderOnly(entry)
                    continue
                }
                try tar.addFile(path: entry.path, mode: entry.mode, size: size) { write in
                    try copyFile(source, size: size, buffer: buffer) { piece in
                        try write(piece)
                        progress?.advance(by: Int64(piece.count))
                    }
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

    static func copyFile(_ source: String, size: Int64, buffer: UnsafeMutableRawBufferPointer,
                         into write: (UnsafeRawBufferPointer) throws -> Void) throws {
        let fd = LongPath.open(source, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw ArchiveError.changedDuringBuild(source) }
            throw ArchiveError.unreadable(source, errno: errno)
        }
        defer { close(fd) }
        // Read-ahead advice pays only for files longer than one read.
        if size > Int64(buffer.count) { posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) }
        while true {
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw ArchiveError.unreadable(source, errno: errno)
            }
            if count == 0 { return }
            try write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }
}
