import Archive
import Foundation
import OCI

extension LayerCache {
    /// The key of a layer made of `entries`, or nil when a source cannot be examined (the build then
    /// writes the layer and reports the problem itself). A file's stamp from the walk (`stamps`, beside
    /// `entries`) is used as it is; only files without one (staged by an installer) are examined here.
    ///
    /// With `byContent`, a file the walk found (one with a stamp) is keyed by its bytes instead: an environment's
    /// staged tree is made anew by every build, so its files' inodes and times always differ, while its
    /// contents (RECORD, entry points, conda-meta, prefix-replaced files) are the same from the same lock.
    /// Files left in a package cache keep their stat: the cache never rewrites them.
    public static func key(_ entries: [LayerEntry], stamps: [FileStamp?] = [], byContent: Bool = false, compression: LayerCompression,
                           epoch: Int64) -> String? {
        var text = KeyText()
        var archives: [String: stat] = [:]
        func stamp(_ path: String) -> stat? {
            if let known = archives[path] { return known }
            var fresh = stat()
            guard LongPath.lstat(path, &fresh) == 0 else { return nil }
            archives[path] = fresh
            return fresh
        }
        // A bad KILN_DEFLATE gives no key: the build reports it when it makes its compressor.
        guard let engine = try? DeflateEngine.current.get() else { return nil }
        text.add("kiln-layer-cache \(formatVersion) \(compression.rawValue) \(engine.rawValue) \(epoch)\n")
        for (index, entry) in entries.enumerated() {
            text.add(entry.path)
            text.add(0)
            text.add(decimal: entry.mode)
            text.add(0)
            switch entry.kind {
            case let .file(source, size) where byContent && index < stamps.count && stamps[index] != nil:
                // A file that cannot be read whole at its walked size gives no key.
                guard let content = try? DigestFile.measure(path: source.path), content.size == size else { return nil }
                text.addContent(size: size, digest: content.digest)
            case let .file(source, size):
                var stamp = index < stamps.count ? stamps[index] : nil
                if stamp == nil {
                    var info = stat()
                    guard LongPath.lstat(source.path, &info) == 0 else { return nil }
                    stamp = FileStamp(info)
                }
                guard let stamp else { return nil }
                text.add("f ")
                text.add(decimal: size)
                text.add(" ")
                text.add(decimal: stamp.device)
                text.add(" ")
                text.add(decimal: stamp.inode)
                text.add(" ")
                text.add(decimal: stamp.size)
                text.add(" ")
                text.add(stamp.modified)
                text.add(" ")
                text.add(stamp.changed)
                text.add("\n")
            case let .member(member):
                // The archive is named by its content (a cached wheel) and never rewritten; its times still go in.
                // A wheel has thousands of members: its stat is taken once.
                guard let info = stamp(member.archive) else { return nil }
                text.add("m \(member.archive)\u{0}\(member.localHeaderOffset) \(member.compressedSize) \(member.size) \(member.crc32) ")
                text.addArchive(info)
            case let .range(range):
                // A conda package's pack, named by the package's hash and never rewritten; as for a wheel.
                guard let info = stamp(range.path) else { return nil }
                text.add("r \(range.path)\u{0}\(range.offset) \(range.size) ")
                text.addArchive(info)
            case let .data(bytes):
                // Generated in memory: keyed by content, as the same file staged on disk would be.
                text.addContent(size: Int64(bytes.count), digest: Digest.sha256(of: bytes))
            default:
                text.add("\(entry.kind)\n")
            }
        }
        return text.finish()
    }
}

/// The key's text, hashed as it grows in 64 KiB pieces: at 200,000 files, building a `String` per entry
/// cost more than examining the files.
private struct KeyText {
    var hash = DigestCounter()
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(1 << 16) }

    /// The inode and mtime of an archive a member is read from (a wheel, a conda package's pack), ending the line.
    mutating func addArchive(_ info: stat) {
        add(decimal: info.st_ino)
        add(" ")
        add(info.st_mtim)
        add("\n")
    }

    mutating func add(_ text: String) {
        bytes.append(contentsOf: text.utf8)
        if bytes.count >= 1 << 16 { flush() }
    }

    mutating func add(_ byte: UInt8) { bytes.append(byte) }

    /// A number in decimal digits, as string interpolation writes it.
    /// A file keyed by its bytes: "c SIZE SHA256".
    mutating func addContent(size: Int64, digest: Digest) {
        add("c ")
        add(decimal: size)
        add(" ")
        add(digest.encoded)
        add("\n")
    }

    mutating func add(decimal number: some BinaryInteger) {
        if number < 0 { bytes.append(UInt8(ascii: "-")) }
        var value = UInt64(truncatingIfNeeded: number.magnitude)
        var digits = 1
        var rest = value / 10
        while rest != 0 { digits += 1; rest /= 10 }
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        bytes.withUnsafeMutableBufferPointer { buffer in
            var index = buffer.count - 1
            while value != 0 {
                buffer[index] += UInt8(value % 10)
                value /= 10
                index -= 1
            }
        }
    }

    /// `seconds.nanoseconds`, the nanoseconds without leading zeros, as the key has always written them.
    mutating func add(_ time: timespec) {
        add(decimal: time.tv_sec)
        bytes.append(UInt8(ascii: "."))
        add(decimal: time.tv_nsec)
    }

    mutating func flush() {
        bytes.withUnsafeBytes { hash.update($0) }
        bytes.removeAll(keepingCapacity: true)
    }

    mutating func finish() -> String {
        flush()
        return hash.finalize().encoded
    }
}
