import Foundation

/// A PEP 440 specifier set (`>=1.2,!=1.3.*,<2`), matched as `packaging.specifiers.SpecifierSet`
/// matches: pre-releases only when asked for or when a specifier names one.
public struct VersionSpecifiers: Sendable, Hashable, CustomStringConvertible {
    public struct Clause: Sendable, Hashable, CustomStringConvertible {
        public var op: String
        public var version: PythonVersion
        /// `==1.2.*` / `!=1.2.*`
        public var wildcard: Bool
        /// `===` compares text.
        public var text: String

        public var description: String { op + text + (wildcard ? ".*" : "") }
    }

    public var clauses: [Clause]

    public init(parsing input: String) throws {
        clauses = try input.split(separator: ",").map { raw in
            let item = raw.trimmingCharacters(in: .whitespaces)
            let ops = ["===", "~=", "==", "!=", "<=", ">=", "<", ">"]
            guard let op = ops.first(where: { item.hasPrefix($0) }) else {
                throw PipError.invalidSpecifier(input, "'\(item)' has no operator (==, !=, <=, >=, <, >, ~=, ===)")
            }
            var rest = item.dropFirst(op.count).trimmingCharacters(in: .whitespaces)
            guard !rest.isEmpty else { throw PipError.invalidSpecifier(input, "'\(item)' has no version") }
            if op == "===" { return Clause(op: op, version: (try? PythonVersion(rest)) ?? PythonVersion(epoch: 0, release: [0], pre: nil, post: nil, dev: nil, local: []), wildcard: false, text: rest) }
            var wildcard = false
            if rest.hasSuffix(".*") {
                guard op == "==" || op == "!=" else { throw PipError.invalidSpecifier(input, "'.*' only follows == or !=") }
                wildcard = true
                rest.removeLast(2)
            }
            let version: PythonVersion
            do { version = try PythonVersion(rest) } catch { throw PipError.invalidSpecifier(input, "'\(rest)' is not a PEP 440 version") }
            if op == "~=", version.release.count < 2 { throw PipError.invalidSpecifier(input, "~= needs at least two release numbers") }
            if wildcard, !version.local.isEmpty || version.dev != nil { throw PipError.invalidSpecifier(input, "a prefix match cannot have a dev or local part") }
            return Clause(op: op, version: version, wildcard: wildcard, text: rest)
        }
    }

    public var description: String { clauses.map(\.description).joined(separator: ",") }

    /// Whether `version` satisfies every clause; pre-releases only when `prereleases` is true, or,
    /// when nil, when some clause names a pre-release.
    public func contains(_ version: PythonVersion, prereleases: Bool? = nil) -> Bool {
        let allowPre = prereleases ?? clauses.contains { $0.version.isPrerelease && $0.op != "!=" }
        if version.isPrerelease, !allowPre { return false }
        return clauses.allSatisfy { Self.matches($0, version) }
    }

    static func matches(_ clause: Clause, _ candidate: PythonVersion) -> Bool {
        let spec = clause.version
        switch clause.op {
        case "===": return candidate.description == clause.text || clause.text.lowercased() == candidate.description
        case "==":
            if clause.wildcard { return prefixMatches(candidate, spec) }
            // Without a local part in the specifier, the candidate's local part is ignored.
            return (spec.local.isEmpty ? candidate.withoutLocal : candidate) == spec
        case "!=":
            if clause.wildcard { return !prefixMatches(candidate, spec) }
            return (spec.local.isEmpty ? candidate.withoutLocal : candidate) != spec
        case "<=": return candidate.withoutLocal <= spec
        case ">=": return candidate.withoutLocal >= spec
        case "<":
            // <V excludes pre-releases of V itself unless V is one.
            guard candidate.withoutLocal < spec else { return false }
            if !spec.isPrerelease, candidate.isPrerelease, sameRelease(candidate, spec) { return false }
            return true
        case ">":
            // >V excludes post-releases (and local versions) of V unless V is a post-release.
            guard candidate.withoutLocal > spec else { return false }
            if !spec.isPostrelease, candidate.isPostrelease, sameRelease(candidate, spec) { return false }
            if !candidate.local.isEmpty, candidate.withoutLocal == spec { return false }
            return true
        case "~=":
            guard candidate.withoutLocal >= spec else { return false }
            let prefix = PythonVersion(epoch: spec.epoch, release: Array(spec.release.dropLast()), pre: nil, post: nil, dev: nil, local: [])
            return prefixMatches(candidate, prefix)
        default: return false
        }
    }

    static func sameRelease(_ a: PythonVersion, _ b: PythonVersion) -> Bool { a.finalRelease == b.finalRelease }

    /// `==1.2.*`: the candidate's release, zero-padded, starts with the prefix's (pre/post parts of the
    /// prefix compared too when given).
    static func prefixMatches(_ candidate: PythonVersion, _ prefix: PythonVersion) -> Bool {
        guard candidate.epoch == prefix.epoch else { return false }
        var release = candidate.release
        while release.count < prefix.release.count { release.append(0) }
        guard Array(release.prefix(prefix.release.count)) == prefix.release else { return false }
        if let pre = prefix.pre { return candidate.pre?.0 == pre.0 && candidate.pre?.1 == pre.1 && release.count == prefix.release.count }
        if let post = prefix.post { return candidate.post == post && candidate.pre == nil && release.count == prefix.release.count }
        return true
    }
}
