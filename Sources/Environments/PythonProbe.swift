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
    /// With `cache` (Kiln's cache directory), the answer is kept by the layers' digests and the hint, and so is
    /// the image's glibc (`GlibcProbe`), read in the same pass: decompressing the layers is most of the cost.
    public static func find(inLayers layers: [String], hint: BasePython?, cache: URL? = nil) throws -> Found? {
        if let cache, let stored = ProbeCache(cacheDirectory: cache).stored(question(hint), layers: layers, as: Found.self) { return stored }
        return try answers(inLayers: layers, hint: hint, needsGlibc: false, cache: cache).python
    }

    /// What a build over the base needs to know of it: its python and its glibc.
    public struct Answers: Sendable, Equatable {
        public var python: Found?
        public var glibc: String?
    }

    /// `find` and `GlibcProbe.version` in one pass over `layers`, both answers kept in `cache`. `early` is called at most
    /// once, while the layers are still being read, with the answers the layers read so far give, as soon as those hold a
    /// python (and a glibc, unless `needsGlibc` is false): a build can resolve on them meanwhile, and compare them with the
    /// final answers. The glibc of an early answer may be the one the `ldd` script states, before libc itself is read. In a
    /// Debian layer, ldd and the interpreter come a sixth of the way through, libc a third.
    public static func answers(inLayers layers: [String], hint: BasePython?, needsGlibc: Bool, cache: URL?,
                               early: ((Answers) -> Void)? = nil) throws -> Answers {
        var told = false
        let scan = try Scan(layers: layers) { partial in
            // Until libc.so.6 is read, ldd's version stands in for it: the final answers tell whether it was right.
            let glibc = partial.glibc ?? partial.lddGlibc
            guard let early, !told, !needsGlibc || glibc != nil, let python = try? read(partial, hint: hint, partial: true) else { return }
            told = true
            early(Answers(python: python, glibc: glibc))
        }
        let answers = Answers(python: try read(scan, hint: hint), glibc: scan.glibc)
        if let cache {
            let probes = ProbeCache(cacheDirectory: cache)
            probes.store(answers.glibc, for: GlibcProbe.question, layers: layers)
            probes.store(answers.python, for: question(hint), layers: layers)
        }
        return answers
    }

    /// Whether `find` would answer from the cache, without reading `layers` (which need not exist yet).
    public static func isCached(inLayers layers: [String], hint: BasePython?, cache: URL) -> Bool {
        ProbeCache(cacheDirectory: cache).has(question(hint), layers: layers, as: Found.self)
    }

    static func question(_ hint: BasePython?) -> String {
        "python \(hint?.interpreter ?? "-") \(hint?.sitePackages ?? "-")"
    }

    /// The python `scan` found. A `partial` scan (the layers not all read yet) gives nil rather than read the layers again
    /// for a version it has not seen.
    static func read(_ scan: Scan, hint: BasePython?, partial: Bool = false) throws -> Found? {
        let tree = scan.tree, layers = scan.layers
        for candidate in hint.map({ [$0.interpreter] }) ?? candidates {
            guard let real = tree.resolve(candidate), let entry = tree.entries[real], entry.kind == .file else { continue }
            guard let (major, minor) = majorMinor(interpreter: real, tree: tree) else { continue }
            let binary = (real as NSString).deletingLastPathComponent
            let prefix = (binary as NSString).deletingLastPathComponent
            var libraries = [real]
            if let shared = tree.resolve("\(prefix)/lib/libpython\(major).\(minor).so.1.0") { libraries.insert(shared, at: 0) }
            let seen = try scan.version(in: libraries, major: major, minor: minor)
            if partial, seen == nil { return nil }
            let version = try seen ?? fullVersion(in: libraries, layers: layers, tree: tree, major: major, minor: minor) ?? "\(major).\(minor).0"
            // Debian and Ubuntu keep /usr for their own packages; pip installs beside them in /usr/local. Before the
            // layers are all read, /etc/debian_version (early in a sorted tar) stands in for the directory, which
            // comes after the interpreter; the final answer checks it.
            let debian = prefix == "/usr" && (tree.entries["/usr/lib/python3/dist-packages"] != nil
                || partial && tree.entries["/etc/debian_version"] != nil)
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

    /// What one pass over an image's layers tells: its tree, its glibc, and the version strings in every file
    /// that may be a python interpreter or library (named `python*` or `libpython*`), so that the interpreter found
    /// in the tree afterwards needs no second pass.
    struct Scan {
        var layers: [String]
        var tree = Tree()
        var glibc: String?
        /// The glibc version the `ldd` script states: a guess for an early answer, before `libc.so.6` is read.
        var lddGlibc: String?
        /// For each such file (the last of its path), how often each `\0X.Y.Z\0` string occurs in it.
        var versions: [String: [String: Int]] = [:]

        /// Reads `layers`, calling `watch` after each member that may change the answers (a python file, a glibc).
        init(layers: [String], watch: (Scan) -> Void = { _ in }) throws {
            self.layers = layers
            // As GlibcProbe reads it: the newest layer holding libc wins, and in it the first libc in tar order.
            var glibcLayer = -1
            for (number, layer) in layers.enumerated() {
                let reader = try TarReader(path: layer)
                while let member = try reader.next() {
                    let path = tree.add(member, layer: number)
                    guard member.kind == .file else { continue }
                    let name = Tree.split(path).name
                    if name.hasPrefix("python") || name.hasPrefix("libpython") {
                        versions[path] = try Self.versionStrings(reader)
                    } else if glibcLayer < number, let found = try GlibcProbe.version(of: member, reader: reader) {
                        glibc = found
                        glibcLayer = number
                    } else if name == "ldd", let stated = try GlibcProbe.lddVersion(of: member, reader: reader) {
                        lddGlibc = stated
                    } else {
                        continue
                    }
                    watch(self)
                }
            }
        }

        /// The most frequent `X.Y.Z` with the given major and minor in the first of `files` that holds one; nil when
        /// a file was not scanned.
        func version(in files: [String], major: Int, minor: Int) throws -> String? {
            for file in files {
                guard let counts = versions[file] else { return nil }
                let mine = counts.filter { $0.key.hasPrefix("\(major).\(minor).") }
                if let best = mine.max(by: { ($0.value, $1.key) < ($1.value, $0.key) }) { return best.key }
            }
            return nil
        }

        /// Counts the `\0D.D.D\0` strings (each part 1 to 3 digits) in the member's data.
        static func versionStrings(_ reader: TarReader) throws -> [String: Int] {
            var counts: [String: Int] = [:]
            // A string cut by a chunk boundary is completed from the bytes kept from the chunk before.
            var carry: [UInt8] = []
            try reader.readData { bytes in
                var buffer = carry
                buffer.append(contentsOf: bytes)
                let keep = 13  // the longest string: NUL, 3 + 1 + 3 + 1 + 3 digits and dots, NUL
                buffer.withUnsafeBufferPointer { all in
                    var index = 0
                    let end = all.count
                    carry = []
                    while index < end {
                        guard all[index] == 0 else { index += 1; continue }
                        // A string too close to the end to judge is left for the next chunk, from its NUL on.
                        if end - index < keep {
                            carry = Array(all[index..<end])
                            break
                        }
                        var cursor = index + 1, parts = 0, digits = 0
                        while cursor < end, parts < 3 {
                            let byte = all[cursor]
                            if byte >= 48, byte <= 57, digits < 3 { digits += 1; cursor += 1; continue }
                            guard digits > 0 else { break }
                            parts += 1
                            digits = 0
                            if parts < 3 { guard byte == UInt8(ascii: ".") else { break }; cursor += 1 }
                            else if byte != 0 { parts = 0 }
                        }
                        if parts == 3 {
                            counts[String(decoding: all[(index + 1)..<cursor], as: UTF8.self), default: 0] += 1
                            index = cursor
                        } else {
                            index += 1
                        }
                    }
                }
            }
            return counts
        }
    }

    /// The image's paths (whiteouts applied), with each entry's kind, link target and the layer it came from.
    struct Tree {
        struct Entry {
            var kind: TarMember.Kind
            var linkTarget: String?
            var layer: Int
        }
        var entries: [String: Entry] = [:]

        /// Applies `member` of layer `layer` (oldest first): an entry, or a whiteout. Returns its cleaned path.
        mutating func add(_ member: TarMember, layer: Int) -> String {
            let path = Self.clean(member.path)
            let (parent, name) = Self.split(path)
            if name == ".wh..wh..opq" {
                entries = entries.filter { !$0.key.hasPrefix(parent == "/" ? "/" : parent + "/") }
            } else if name.hasPrefix(".wh.") {
                let gone = Self.clean(parent + "/" + name.dropFirst(4))
                entries = entries.filter { $0.key != gone && !$0.key.hasPrefix(gone + "/") }
            } else {
                entries[path] = Entry(kind: member.kind, linkTarget: member.linkTarget, layer: layer)
            }
            return path
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

        /// A cleaned path's parent (`/` for a top-level name) and last component, as NSString's
        /// `deletingLastPathComponent` and `lastPathComponent` give them, without bridging every member's path.
        static func split(_ path: String) -> (parent: String, name: String) {
            guard let slash = path.lastIndex(of: "/") else { return ("", path) }
            let parent = slash == path.startIndex ? "/" : String(path[..<slash])
            return (parent, String(path[path.index(after: slash)...]))
        }

        /// `./a/b/` → `/a/b`
        static func clean(_ path: String) -> String {
            // Most members' paths are plain (`./usr/bin/x`, `usr/lib/`): no `.` or `..` component and no doubled slash.
            var body = Substring(path)
            if body.hasPrefix("./") { body = body.dropFirst(2) }
            while body.hasSuffix("/") { body = body.dropLast() }
            let plain = String(body)
            if MemberPath.isPlain(plain) { return "/" + plain }
            var parts: [Substring] = []
            for part in path.split(separator: "/") where part != "." {
                if part == ".." { _ = parts.popLast() } else { parts.append(part) }
            }
            return "/" + parts.joined(separator: "/")
        }
    }
}
