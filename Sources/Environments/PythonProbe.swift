import Archive
import Foundation
import Plan

/// Finds the base image's python from its layer blobs, without running anything: the interpreter (its
/// symlinks followed inside the image), its version, and where pip would put packages for it.
public enum PythonProbe {
    /// A python found in an image.
    public struct Found: Sendable, Equatable, Codable {
        /// The interpreter as found, e.g. `/usr/bin/python3`.
        public var interpreter: String
        /// The version read from the image, e.g. `3.11.2`.
        public var version: String
        /// Where wheels' files go, e.g. `/usr/local/lib/python3.11/dist-packages`.
        public var sitePackages: String
        /// Where console scripts go, e.g. `/usr/local/bin`.
        public var scripts: String
        /// The installation prefix that headers and data files go under, e.g. `/usr/local`.
        public var dataPrefix: String
    }

    /// Interpreters tried in order when the catalogue names none: the official python images, Debian
    /// and Ubuntu, then conda installs.
    static let candidates = ["/usr/local/bin/python3", "/usr/bin/python3", "/opt/conda/bin/python3", "/opt/miniconda/bin/python3",
                             "/usr/local/bin/python", "/usr/bin/python", "/opt/conda/bin/python", "/opt/miniconda/bin/python"]

    /// The python of the image whose layer blobs (oldest first) are `layers`; nil when it has none.
    /// With `cache` (Kiln's cache directory), the answer is kept by the layers' digests and the hint.
    public static func find(inLayers layers: [String], hint: BasePython?, cache: URL? = nil) throws -> Found? {
        guard let cache else { return try read(layers, hint: hint) }
        let question = "python \(hint?.interpreter ?? "-") \(hint?.sitePackages ?? "-")"
        return try ProbeCache(cacheDirectory: cache).answer(question, layers: layers) { try read(layers, hint: hint) }
    }

    static func read(_ layers: [String], hint: BasePython?) throws -> Found? {
        let tree = try Tree(layers: layers)
        for candidate in hint.map({ [$0.interpreter] }) ?? candidates {
            guard let real = tree.resolve(candidate), let entry = tree.entries[real], entry.kind == .file else { continue }
            guard let (major, minor) = majorMinor(interpreter: real, tree: tree) else { continue }
            let binary = (real as NSString).deletingLastPathComponent
            let prefix = (binary as NSString).deletingLastPathComponent
            var libraries = [real]
            if let shared = tree.resolve("\(prefix)/lib/libpython\(major).\(minor).so.1.0") { libraries.insert(shared, at: 0) }
            let version = try fullVersion(in: libraries, layers: layers, tree: tree, major: major, minor: minor) ?? "\(major).\(minor).0"
            // Debian and Ubuntu keep /usr for their own packages; pip installs beside them in /usr/local.
            let debian = prefix == "/usr" && tree.entries["/usr/lib/python3/dist-packages"] != nil
            let installPrefix = debian ? "/usr/local" : prefix
            let sitePackages = hint?.sitePackages ?? "\(installPrefix)/lib/python\(major).\(minor)/\(debian ? "dist-packages" : "site-packages")"
            return Found(interpreter: candidate, version: version, sitePackages: sitePackages, scripts: installPrefix + "/bin",
                         dataPrefix: installPrefix)
        }
        return nil
    }

    /// `python3.11` in the resolved name, else the `lib/python3.X/os.py` landmark beside the interpreter.
    static func majorMinor(interpreter: String, tree: Tree) -> (Int, Int)? {
        let name = (interpreter as NSString).lastPathComponent
        if name.hasPrefix("python"), let parsed = parse(String(name.dropFirst(6))) { return parsed }
        let prefix = ((interpreter as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        return tree.entries.keys.lazy.compactMap { path -> (Int, Int)? in
            guard path.hasPrefix(prefix + "/lib/python"), path.hasSuffix("/os.py") else { return nil }
            let middle = path.dropFirst(prefix.count + 11).dropLast(6)
            return parse(String(middle))
        }.first
    }

    static func parse(_ text: String) -> (Int, Int)? {
        let parts = text.split(separator: ".")
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { return nil }
        return (major, minor)
    }

    /// CPython keeps its version (`PY_VERSION`) as a NUL-terminated string in the interpreter or in
    /// libpython: the most frequent `\0X.Y.Z\0` there is the version.
    static func fullVersion(in files: [String], layers: [String], tree: Tree, major: Int, minor: Int) throws -> String? {
        let needle = Array("\u{0}\(major).\(minor).".utf8)
        for file in files {
            guard let layer = tree.entries[file]?.layer else { continue }
            let reader = try TarReader(path: layers[layer])
            while let member = try reader.next() {
                guard Tree.clean(member.path) == file, member.kind == .file else { continue }
                var counts: [String: Int] = [:]
                var tail: [UInt8] = []
                try reader.readData { bytes in
                    tail.append(contentsOf: bytes)
                    var index = 0
                    while index + needle.count + 2 < tail.count {
                        if tail[index] == 0, tail[index + 1] == needle[1], tail[index..<index + needle.count].elementsEqual(needle) {
                            let digits = tail[(index + needle.count)...].prefix { $0 >= 48 && $0 <= 57 }
                            let end = index + needle.count + digits.count
                            if !digits.isEmpty, digits.count < 4, end < tail.count, tail[end] == 0 {
                                counts["\(major).\(minor).\(String(decoding: digits, as: UTF8.self))", default: 0] += 1
                            }
                        }
                        index += 1
                    }
                    tail = Array(tail.suffix(needle.count + 4))
                }
                if let best = counts.max(by: { ($0.value, $1.key) < ($1.value, $0.key) }) { return best.key }
            }
        }
        return nil
    }

    /// The image's paths (whiteouts applied), with each entry's kind, link target and the layer it came from.
    struct Tree {
        struct Entry {
            var kind: TarMember.Kind
            var linkTarget: String?
            var layer: Int
        }
        var entries: [String: Entry] = [:]

        init(layers: [String]) throws {
            for (number, layer) in layers.enumerated() {
                let reader = try TarReader(path: layer)
                while let member = try reader.next() {
                    let path = Self.clean(member.path)
                    let name = (path as NSString).lastPathComponent
                    let parent = (path as NSString).deletingLastPathComponent
                    if name == ".wh..wh..opq" {
                        entries = entries.filter { !$0.key.hasPrefix(parent == "/" ? "/" : parent + "/") }
                    } else if name.hasPrefix(".wh.") {
                        let gone = Self.clean(parent + "/" + name.dropFirst(4))
                        entries = entries.filter { $0.key != gone && !$0.key.hasPrefix(gone + "/") }
                    } else {
                        entries[path] = Entry(kind: member.kind, linkTarget: member.linkTarget, layer: number)
                    }
                }
            }
        }

        /// `path` with every symlink in it followed inside the image; nil for a dangling path or a loop.
        func resolve(_ path: String) -> String? {
            var pending = Self.clean(path).split(separator: "/").map(String.init)
            var resolved = ""
            var hops = 0
            while !pending.isEmpty {
                let part = pending.removeFirst()
                if part == ".." { resolved = (resolved as NSString).deletingLastPathComponent; if resolved == "/" { resolved = "" }; continue }
                let next = resolved + "/" + part
                guard let entry = entries[next] else {
                    // Directories need no entry of their own in a layer.
                    if pending.isEmpty { return nil }
                    resolved = next
                    continue
                }
                if entry.kind == .symlink, let target = entry.linkTarget {
                    hops += 1
                    guard hops < 40 else { return nil }
                    pending = target.split(separator: "/").map(String.init) + pending
                    if target.hasPrefix("/") { resolved = "" }
                } else if entry.kind == .hardlink, let target = entry.linkTarget {
                    resolved = Self.clean(target)
                } else {
                    resolved = next
                }
            }
            return resolved.isEmpty ? "/" : resolved
        }

        /// `./a/b/` → `/a/b`
        static func clean(_ path: String) -> String {
            var parts: [Substring] = []
            for part in path.split(separator: "/") where part != "." {
                if part == ".." { _ = parts.popLast() } else { parts.append(part) }
            }
            return "/" + parts.joined(separator: "/")
        }
    }
}
