#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Plan

/// One member of a layer, already mapped to its path in the image.
public struct LayerEntry: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case directory
        /// A regular file whose bytes are read from `source` when the layer is written.
        case file(source: SourcePath, size: Int64)
        case symlink(target: String)
        /// A second name for a file already in this layer, at `target` (an image path).
        case hardlink(target: String)
        /// A regular file whose bytes are a member of an archive (a wheel), read from it when the layer is written.
        indirect case member(ArchiveMember)
        /// A regular file whose bytes are a run of another file (a conda package's pack), read from it when the layer is written.
        indirect case range(FileRange)
        /// A regular file whose bytes are held in memory (a file an installer generated).
        indirect case data(Data)
    }

    /// The path in the image, relative to `/`, without a trailing slash: `var/azureml-app/score.py`.
    public var path: String
    public var kind: Kind
    /// Permission bits only.
    public var mode: UInt32

    /// The bytes a regular file holds; 0 for the other kinds.
    public var fileSize: Int64 {
        switch kind {
        case let .file(_, size): return size
        case let .member(member): return member.size
        case let .range(range): return range.size
        case let .data(bytes): return Int64(bytes.count)
        default: return 0
        }
    }

    public init(path: String, kind: Kind, mode: UInt32) {
        self.path = path
        self.kind = kind
        self.mode = mode
    }

    /// The indices of `paths` in `precedes` order. The paths are laid end to end in one buffer and only indices
    /// move, compared with memcmp: sorting the values themselves copied each one (retaining its strings) at every
    /// move, which was a seventh of the time at 200,000 files.
    public static func order(of paths: some Collection<String>) -> [Int] {
        var bytes: [UInt8] = []
        var spans: [(start: Int, count: Int)] = []
        spans.reserveCapacity(paths.count)
        for var path in paths {
            path.withUTF8 { utf8 in
                spans.append((bytes.count, utf8.count))
                bytes.append(contentsOf: utf8)
            }
        }
        var order = Array(spans.indices)
        bytes.withUnsafeBufferPointer { buffer in
            spans.withUnsafeBufferPointer { spans in
                guard let base = buffer.baseAddress else { return }
                order.sort { left, right in
                    let a = spans[left], b = spans[right]
                    let order = memcmp(base + a.start, base + b.start, min(a.count, b.count))
                    return order != 0 ? order < 0 : a.count < b.count
                }
            }
        }
        return order
    }

    /// Orders paths by their UTF-8 bytes, so every machine sorts them alike and parents come first.
    public static func precedes(_ lhs: String, _ rhs: String) -> Bool {
        var lhs = lhs
        var rhs = rhs
        return lhs.withUTF8 { left in
            rhs.withUTF8 { right in
                let shared = min(left.count, right.count)
                if shared > 0, let a = left.baseAddress, let b = right.baseAddress {
                    let order = memcmp(a, b, shared)
                    if order != 0 { return order < 0 }
                }
                return left.count < right.count
            }
        }
    }
}

/// The fields of a file's `stat` that tell whether it changed since a layer was made of it: the walk keeps
/// them beside each file it finds, so the layer cache's key needs no second `stat` per file.
public struct FileStamp: Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var modified: timespec
    public var changed: timespec

    public init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modified = info.st_mtim
        changed = info.st_ctim
    }

    public static func == (lhs: FileStamp, rhs: FileStamp) -> Bool {
        lhs.device == rhs.device && lhs.inode == rhs.inode && lhs.size == rhs.size
            && lhs.modified.tv_sec == rhs.modified.tv_sec && lhs.modified.tv_nsec == rhs.modified.tv_nsec
            && lhs.changed.tv_sec == rhs.changed.tv_sec && lhs.changed.tv_nsec == rhs.changed.tv_nsec
    }
}

/// Where a layer file's bytes are read from on the host: a directory, shared by every file the walk found in
/// it, and a name. At 200,000 files a whole path per file was a fifth of the build's memory; a name of up to
/// 15 bytes is stored inside the value itself.
public struct SourcePath: Sendable, Hashable, CustomStringConvertible {
    /// A directory's path, held once for all of its files.
    public final class Directory: Sendable {
        public let path: String
        public init(_ path: String) { self.path = path }
    }

    /// nil when `name` is the whole path.
    public let directory: Directory?
    public let name: String

    public init(_ path: String) {
        directory = nil
        name = path
    }

    public init(directory: Directory, name: String) {
        self.directory = directory
        self.name = name
    }

    public var path: String { directory.map { $0.path + "/" + name } ?? name }
    public var description: String { path }

    public static func == (lhs: SourcePath, rhs: SourcePath) -> Bool { lhs.path == rhs.path }
    public func hash(into hasher: inout Hasher) { hasher.combine(path) }
}
