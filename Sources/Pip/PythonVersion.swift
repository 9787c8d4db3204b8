import Foundation

/// A PEP 440 version: `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, parsed leniently as pip does
/// (`v` prefix, `alpha`/`beta`/`c`/`pre`/`preview`, `-`/`_`/`.` separators, implicit numbers), and
/// ordered as `packaging.version.Version` orders.
public struct PythonVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let epoch: Int
    public let release: [Int]
    /// ("a" | "b" | "rc", number)
    public let pre: (String, Int)?
    public let post: Int?
    public let dev: Int?
    /// Local segments: numbers or lowercase text.
    public let local: [LocalPart]

    public enum LocalPart: Sendable, Hashable {
        case number(Int)
        case text(String)
    }

    public init(_ input: String) throws {
        var text = Substring(input.trimmingCharacters(in: .whitespaces).lowercased())
        if text.hasPrefix("v") { text = text.dropFirst() }
        func number(_ digits: Substring) -> Int? { digits.isEmpty ? nil : Int(digits.prefix(18)) }
        func digits() -> Substring {
            let run = text.prefix { $0.isASCII && $0.isNumber }
            text = text.dropFirst(run.count)
            return run
        }
        func separator() { if let first = text.first, ".-_".contains(first) { text = text.dropFirst() } }
        func word(_ options: [String]) -> String? {
            for option in options.sorted(by: { $0.count > $1.count }) where text.hasPrefix(option) {
                text = text.dropFirst(option.count)
                return option
            }
            return nil
        }
        // epoch and release
        var first = digits()
        var epoch = 0
        if text.first == "!" {
            guard let value = number(first) else { throw PipError.invalidVersion(input) }
            epoch = value
            text = text.dropFirst()
            first = digits()
        }
        guard let major = number(first) else { throw PipError.invalidVersion(input) }
        var release = [major]
        while text.first == ".", text.dropFirst().first?.isNumber == true {
            text = text.dropFirst()
            guard let value = number(digits()) else { throw PipError.invalidVersion(input) }
            release.append(value)
        }
        // pre-release
        var pre: (String, Int)?
        let beforePre = text
        separator()
        if let kind = word(["alpha", "beta", "preview", "pre", "rc", "a", "b", "c"]) {
            separator()
            let normalized = ["alpha": "a", "a": "a", "beta": "b", "b": "b"][kind] ?? "rc"
            pre = (normalized, number(digits()) ?? 0)
        } else {
            text = beforePre
        }
        // post-release: "-N" or [sep](post|rev|r)[sep]N
        var post: Int?
        let beforePost = text
        if text.first == "-", text.dropFirst().first?.isNumber == true {
            text = text.dropFirst()
            post = number(digits())
        } else {
            separator()
            if word(["post", "rev", "r"]) != nil {
                separator()
                post = number(digits()) ?? 0
            } else {
                text = beforePost
            }
        }
        // dev-release
        var dev: Int?
        let beforeDev = text
        separator()
        if word(["dev"]) != nil {
            separator()
            dev = number(digits()) ?? 0
        } else {
            text = beforeDev
        }
        // local
        var local: [LocalPart] = []
        if text.first == "+" {
            text = text.dropFirst()
            let parts = text.split(omittingEmptySubsequences: false, whereSeparator: { ".-_".contains($0) })
            guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } }) else {
                throw PipError.invalidVersion(input)
            }
            local = parts.map { part -> LocalPart in part.allSatisfy(\.isNumber) ? .number(Int(part.prefix(18)) ?? 0) : .text(String(part)) }
            text = ""
        }
        guard text.isEmpty else { throw PipError.invalidVersion(input) }
        self.init(epoch: epoch, release: release, pre: pre, post: post, dev: dev, local: local)
    }

    public var isPrerelease: Bool { pre != nil || dev != nil }
    public var isPostrelease: Bool { post != nil }

    /// The normalized form (`1.0rc1.post2.dev3+abc.5`).
    public var description: String {
        var text = (epoch != 0 ? "\(epoch)!" : "") + release.map(String.init).joined(separator: ".")
        if let pre { text += "\(pre.0)\(pre.1)" }
        if let post { text += ".post\(post)" }
        if let dev { text += ".dev\(dev)" }
        if !local.isEmpty {
            text += "+" + local.map { part -> String in
                switch part {
                case let .number(value): return String(value)
                case let .text(value): return value
                }
            }.joined(separator: ".")
        }
        return text
    }

    /// Epoch and release only (`1!2.0rc1.post3+x` → `1!2.0`).
    public var finalRelease: PythonVersion { PythonVersion(epoch: epoch, release: release, pre: nil, post: nil, dev: nil, local: []) }

    /// The release without trailing zeros, as compared and hashed (`1.0.0` → `[1]`).
    var significantRelease: [Int] {
        var trimmed = release
        while trimmed.count > 1, trimmed.last == 0 { trimmed.removeLast() }
        return trimmed
    }

    /// The version without its local part (`1.0+cpu` → `1.0`).
    public var withoutLocal: PythonVersion {
        PythonVersion(epoch: epoch, release: release, pre: pre, post: post, dev: dev, local: [])
    }

    init(epoch: Int, release: [Int], pre: (String, Int)?, post: Int?, dev: Int?, local: [LocalPart]) {
        self.epoch = epoch
        self.release = release
        self.pre = pre
        self.post = post
        self.dev = dev
        self.local = local
    }

    /// packaging's `_cmpkey`: trailing zeros of the release ignored; a dev-only release sorts before
    /// its pre-releases; a final release after them; no post before any post; no dev after any dev;
    /// no local before any local; local numbers after local text.
    static func compare(_ a: PythonVersion, _ b: PythonVersion) -> Int {
        if a.epoch != b.epoch { return a.epoch < b.epoch ? -1 : 1 }
        let x = a.significantRelease, y = b.significantRelease
        for index in 0..<max(x.count, y.count) {
            let p = index < x.count ? x[index] : 0, q = index < y.count ? y[index] : 0
            if p != q { return p < q ? -1 : 1 }
        }
        func preKey(_ v: PythonVersion) -> (Int, String, Int) {
            if let pre = v.pre { return (1, pre.0, pre.1) }
            if v.post == nil, v.dev != nil { return (0, "", 0) }   // 1.0.dev0 < 1.0a0
            return (2, "", 0)
        }
        let pa = preKey(a), pb = preKey(b)
        if pa.0 != pb.0 { return pa.0 < pb.0 ? -1 : 1 }
        if pa.1 != pb.1 { return pa.1 < pb.1 ? -1 : 1 }
        if pa.2 != pb.2 { return pa.2 < pb.2 ? -1 : 1 }
        let qa = a.post.map { $0 + 1 } ?? 0, qb = b.post.map { $0 + 1 } ?? 0
        if qa != qb { return qa < qb ? -1 : 1 }
        let da = a.dev ?? Int.max, db = b.dev ?? Int.max
        if da != db { return da < db ? -1 : 1 }
        for index in 0..<max(a.local.count, b.local.count) {
            guard index < a.local.count else { return -1 }
            guard index < b.local.count else { return 1 }
            switch (a.local[index], b.local[index]) {
            case let (.number(p), .number(q)) where p != q: return p < q ? -1 : 1
            case let (.text(p), .text(q)) where p != q: return p < q ? -1 : 1
            case (.text, .number): return -1
            case (.number, .text): return 1
            default: continue
            }
        }
        return 0
    }

    public static func < (lhs: PythonVersion, rhs: PythonVersion) -> Bool { compare(lhs, rhs) < 0 }
    public static func == (lhs: PythonVersion, rhs: PythonVersion) -> Bool { compare(lhs, rhs) == 0 }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(epoch)
        hasher.combine(significantRelease)
        hasher.combine(pre?.0)
        hasher.combine(pre?.1)
        hasher.combine(post)
        hasher.combine(dev)
        hasher.combine(local)
    }
}
