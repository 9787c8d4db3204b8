import Archive
import Foundation

/// Reads the glibc version of an image from its layer blobs (compressed or not): the newest layer holding `libc.so.6` wins,
/// and the version is the `release version X.Y` string glibc carries (or the `libc-X.Y.so` name).
public enum GlibcProbe {
    /// With `cache` (Kiln's cache directory), the answer is kept by the layers' digests. `PythonProbe.find`
    /// answers this too, in the same pass: a build that needs both asks for the python first.
    public static func version(inLayers paths: [String], cache: URL? = nil) throws -> String? {
        guard let cache else { return try read(paths) }
        return try ProbeCache(cacheDirectory: cache).answer(question, layers: paths) { try read(paths) }
    }

    static let question = "glibc"

    /// Whether `version` would answer from the cache, without reading `paths` (which need not exist yet).
    public static func isCached(inLayers paths: [String], cache: URL) -> Bool {
        ProbeCache(cacheDirectory: cache).has(question, layers: paths, as: String.self)
    }

    static func read(_ paths: [String]) throws -> String? {
        for blob in paths.reversed() {
            let reader = try TarReader(path: blob)
            while let member = try reader.next() {
                if let found = try version(of: member, reader: reader) { return found }
            }
        }
        return nil
    }

    /// `member`'s path without a leading `./`, as tar writes it for `tar -C root .`.
    static func memberPath(_ member: TarMember) -> String {
        member.path.hasPrefix("./") ? String(member.path.dropFirst(2)) : member.path
    }

    /// The glibc version the `ldd` script states (`echo 'ldd (Debian GLIBC 2.36-9+deb12u4) 2.36'`), when `member` is
    /// one in a bin directory; nil for any other member. Only a guess, for an early answer: ldd comes from glibc's own
    /// build (Debian's libc-bin, Red Hat's glibc-common) and in a tar sorted by name sits in `usr/bin`, long before
    /// `libc.so.6` in `usr/lib`, but another package could change one without the other.
    static func lddVersion(of member: TarMember, reader: TarReader) throws -> String? {
        let path = memberPath(member)
        guard ["usr/bin/ldd", "bin/ldd", "/usr/bin/ldd", "/bin/ldd"].contains(path), member.kind == .file, member.size < 1 << 16 else { return nil }
        var text = Data()
        try reader.readData { text.append(contentsOf: $0) }
        for line in String(decoding: text, as: UTF8.self).split(separator: "\n") {
            guard let start = line.range(of: "'ldd ("), let close = line[start.upperBound...].range(of: ") ") else { continue }
            let version = line[close.upperBound...].prefix { $0 == "." || $0.isASCII && $0.isNumber }
            let parts = version.split(separator: ".")
            if parts.count == 2, parts.allSatisfy({ $0.count <= 3 }) { return String(version) }
        }
        return nil
    }

    /// The glibc version `member` tells, reading its data from `reader` if it is `libc.so.6`; nil for any other member.
    static func version(of member: TarMember, reader: TarReader) throws -> String? {
        let path = memberPath(member)
        let name = (path as NSString).lastPathComponent
        if name.hasPrefix("libc-"), name.hasSuffix(".so"), path.contains("lib") {
            return String(name.dropFirst(5).dropLast(3))
        }
        guard name == "libc.so.6", member.kind == .file else { return nil }
        var tail = Data()
        var found: String?
        try reader.readData { bytes in
            guard found == nil else { return }
            tail.append(contentsOf: bytes)
            if let range = tail.range(of: Data("release version ".utf8)) {
                let digits = tail[range.upperBound...].prefix { $0 == UInt8(ascii: ".") || ($0 >= 48 && $0 <= 57) }
                if digits.count >= 3, digits.count < 12, range.upperBound + digits.count < tail.endIndex {
                    found = String(decoding: digits, as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: "."))
                }
            }
            if tail.count > 64 { tail = tail.suffix(64) }
        }
        return found
    }
}
