import Foundation

/// A file whose bytes are one member of an archive on the build machine (a wheel in the cache), read
/// from there when its layer is written instead of being extracted first.
///
/// The member is checked as it is read: its size, its CRC-32 and, when given, the sha256 the archive's
/// own manifest states (a wheel's RECORD).
public struct ArchiveMember: Sendable, Equatable, Hashable {
    /// The zip archive on the build machine.
    public var archive: String
    /// How errors name the member: `numpy-2.4.6-cp311-manylinux_2_28_x86_64.whl: numpy/_core/_multiarray_umath.so`.
    public var name: String
    /// Where the member's local header starts.
    public var localHeaderOffset: Int64
    /// 0 (stored) or 8 (deflate).
    public var method: UInt16
    public var compressedSize: Int64
    public var size: Int64
    public var crc32: UInt32
    /// The sha256 of the member's bytes, lowercase hex; nil when the archive states none.
    public var sha256: String?

    public init(archive: String, name: String, localHeaderOffset: Int64, method: UInt16, compressedSize: Int64, size: Int64,
                crc32: UInt32, sha256: String?) {
        self.archive = archive
        self.name = name
        self.localHeaderOffset = localHeaderOffset
        self.method = method
        self.compressedSize = compressedSize
        self.size = size
        self.crc32 = crc32
        self.sha256 = sha256
    }
}

/// A file of a layer input that was never written to the input's directory: its bytes are read straight
/// into the layer from where they already are.
public struct StagedMember: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// A member of an archive (a wheel in the cache).
        case archive(ArchiveMember)
        /// Bytes inside a file on the build machine (a conda package's file in its pack in the package cache).
        case range(FileRange)
        /// A small file an installer generated (a wheel's RECORD, INSTALLER or entry-point script), held in memory:
        /// the layer writes it without it ever touching the disk.
        case bytes(Data)
        /// A directory an archive lists (a wheel keeps its empty directories, as uv keeps them).
        case directory

        public var size: Int64 {
            switch self {
            case let .archive(member): return member.size
            case let .range(range): return range.size
            case let .bytes(data): return Int64(data.count)
            case .directory: return 0
            }
        }
    }

    /// Where the file would have been, relative to the input's source.
    public var path: String
    public var source: Source
    /// Permission bits.
    public var mode: UInt32

    public init(path: String, source: Source, mode: UInt32) {
        self.path = path
        self.source = source
        self.mode = mode
    }
}

/// A run of `size` bytes at `offset` in a file on the build machine that is never rewritten (a conda package's
/// pack, which holds each of its files back to back): one file's bytes, read from there when a layer is written.
public struct FileRange: Sendable, Equatable, Hashable {
    /// The file holding the bytes.
    public var path: String
    public var offset: Int64
    public var size: Int64
    /// How errors name the bytes: `python-3.11.2-kiln_0.conda: bin/python3.11`.
    public var name: String

    public init(path: String, offset: Int64, size: Int64, name: String) {
        self.path = path
        self.offset = offset
        self.size = size
        self.name = name
    }
}
