import Foundation

/// The solver's view of the channels: names, specs and records as small integer ids, loaded only when
/// the search reaches them. A name's records are read from the source the first time a spec or a
/// constraint names it; each distinct spec text is parsed once, and its matching candidates are
/// computed once, in conda's order of preference.
struct Pool {
    let source: RecordSource
    let virtual: [PackageRecord]
    let addPip: Bool

    // Names.
    private var nameIndex: [String: Int32] = [:]
    private(set) var names: [String] = []
    /// Per name: its records' ids in load order (empty until loaded).
    private(set) var members: [[Int32]] = []
    private var loaded: [Bool] = []
    /// Per name: its records in conda's order of preference, once a spec on it needs candidates.
    private var preferred: [[Int32]?] = []

    // Records: one id (and one solver variable) per record.
    private(set) var records: [PackageRecord] = []
    private(set) var nameOf: [Int32] = []
    /// The record's version as a rank among its name's versions (equal versions, equal rank), so that
    /// comparisons use integers, not version strings.
    private var rank: [Int32] = []
    /// Per name: one version per rank, so a spec that constrains only the version is tested once per
    /// version instead of once per record.
    private var rankVersions: [[CondaVersion]] = []
    /// Per name ranked but not loaded: each record's rank and whether it has track_features, in load order.
    private var ranked: [[(rank: Int32, tracked: Bool)]?] = []
    private var dependsOf: [[Int32]?] = []

    // Specs.
    private var specIndex: [String: Int32] = [:]
    private(set) var specs: [MatchSpec] = []
    private(set) var specName: [Int32] = []
    /// Each computed spec's candidates, back to back: `matches[matchStart[s] ..< matchStart[s] + matchCount[s]]`
    /// (`matchStart[s]` is -1 until computed).
    private(set) var matches: [Int32] = []
    private(set) var matchStart: [Int32] = []
    private(set) var matchCount: [Int32] = []
    private var topRank: [Int64?] = []
    private var topKnown: [Bool] = []

    /// The name of every gate variable (see `addGate`), -1 until the first.
    private(set) var gateName: Int32 = -1

    init(source: RecordSource, virtual: [PackageRecord], addPip: Bool) {
        self.source = source
        self.virtual = virtual
        self.addPip = addPip
    }

    var count: Int { records.count }

    func name(of record: Int) -> Int { Int(nameOf[record]) }

    // MARK: Names

    mutating func nameId(_ name: String) -> Int {
        if let id = nameIndex[name] { return Int(id) }
        let id = names.count
        nameIndex[name] = Int32(id)
        names.append(name)
        members.append([])
        loaded.append(false)
        preferred.append(nil)
        rankVersions.append([])
        ranked.append(nil)
        return id
    }

    /// Reads a name's records from the source, once.
    mutating func load(_ name: Int) throws {
        guard !loaded[name] else { return }
        loaded[name] = true
        let text = names[name]
        var found = text.hasPrefix("__") ? virtual.filter { $0.name == text } : try source.records(named: text)
        if addPip, text == "python" {
            // conda appends `pip` to every python 2/3 record's depends (`add_pip_as_python_dependency`).
            found = found.map { record in
                var copy = record
                let major = record.version.description
                if major.hasPrefix("2.") || major.hasPrefix("3."), !copy.depends.contains(where: { $0.split(separator: " ").first == "pip" }) {
                    copy.depends.append("pip")
                }
                return copy
            }
        }
        let start = records.count
        records += found
        nameOf += Array(repeating: Int32(name), count: found.count)
        dependsOf += Array(repeating: nil, count: found.count)
        let ids = (start..<records.count).map { Int32($0) }
        members[name] = ids
        rank += Array(repeating: 0, count: found.count)
        let ordered = ids.sorted { records[Int($0)].version < records[Int($1)].version }
        var current: Int32 = 0
        var versions: [CondaVersion] = []
        for (position, id) in ordered.enumerated() {
            if position > 0, records[Int(ordered[position - 1])].version < records[Int(id)].version { current += 1 }
            if versions.count == current { versions.append(records[Int(id)].version) }
            rank[Int(id)] = current
        }
        rankVersions[name] = versions
    }

    mutating func loadedMembers(_ name: Int) throws -> [Int32] {
        try load(name)
        return members[name]
    }

    /// A variable that is not a record: a gate of resolvo's shared requires encoding. It takes the next
    /// record id, under the empty name, which no spec has, and is no member of it, so the at-most-one
    /// rule, the decisions and the solution never see it.
    mutating func addGate() throws -> Int {
        if gateName < 0 { gateName = Int32(nameId("")) }
        let id = records.count
        records.append(try PackageRecord(virtual: "", version: "0"))
        nameOf.append(gateName)
        dependsOf.append([])
        rank.append(0)
        return id
    }

    @inline(__always) func isGate(_ variable: Int) -> Bool { nameOf[variable] == gateName }

    // MARK: Specs

    mutating func specId(_ text: String) throws -> Int {
        if let id = specIndex[text] { return Int(id) }
        let spec = try MatchSpec(parsing: text)
        return intern(spec, text: text)
    }

    mutating func specId(_ spec: MatchSpec) -> Int {
        if let id = specIndex[spec.source] { return Int(id) }
        return intern(spec, text: spec.source)
    }

    private mutating func intern(_ spec: MatchSpec, text: String) -> Int {
        let id = specs.count
        specIndex[text] = Int32(id)
        specs.append(spec)
        specName.append(Int32(nameId(spec.name)))
        matchStart.append(-1)
        matchCount.append(0)
        topRank.append(nil)
        topKnown.append(false)
        return id
    }

    /// A record's dependencies as spec ids, parsed the first time they are needed.
    mutating func dependencies(of record: Int) throws -> [Int32] {
        if let known = dependsOf[record] { return known }
        var ids: [Int32] = []
        for text in records[record].depends { ids.append(Int32(try specId(text))) }
        dependsOf[record] = ids
        return ids
    }

    /// The records a spec matches, in conda's order of preference.
    mutating func candidates(_ spec: Int) throws -> ArraySlice<Int32> {
        if matchStart[spec] < 0 {
            let ordered = try preference(Int(specName[spec]))
            let found = select(ordered, spec)
            matchStart[spec] = Int32(matches.count)
            matchCount[spec] = Int32(found.count)
            matches += found
        }
        return matches[matchRange(spec)]
    }

    /// Where the candidates of a spec computed by `candidates(_:)` are in `matches`.
    @inline(__always) func matchRange(_ spec: Int) -> Range<Int> {
        let start = Int(matchStart[spec])
        return start..<(start + Int(matchCount[spec]))
    }

    /// The version part of a spec that constrains nothing else (`.some(nil)` for any version); nil when
    /// it also constrains the build, channel or hashes.
    private func versionOnly(_ spec: Int) -> VersionSpec?? {
        let match = specs[spec]
        guard match.build == nil, match.buildNumber == nil, match.channel == nil, match.subdir == nil, match.md5 == nil, match.sha256 == nil else {
            return nil
        }
        return .some(match.version)
    }

    /// Each record's rank and track_features flag for a name, from the source's versions alone.
    private mutating func rankedVersions(_ name: Int) throws -> [(rank: Int32, tracked: Bool)] {
        if let known = ranked[name] { return known }
        let text = names[name]
        let found = text.hasPrefix("__") ? virtual.filter { $0.name == text }.map { ($0.version, !$0.trackFeatures.isEmpty) } : try source.versions(named: text)
        var distinct: [CondaVersion] = []
        for version in found.map(\.version).sorted(by: <) where distinct.last.map({ $0 < version }) ?? true { distinct.append(version) }
        let entries = found.map { item in
            // Its rank is the first distinct version not below it (binary search).
            var low = 0, high = distinct.count
            while low < high {
                let middle = (low + high) / 2
                if distinct[middle] < item.version { low = middle + 1 } else { high = middle }
            }
            return (rank: Int32(low), tracked: item.tracked)
        }
        rankVersions[name] = distinct
        ranked[name] = entries
        return entries
    }

    /// The records of `ids` (all of the spec's name) that the spec matches.
    private func select(_ ids: [Int32], _ spec: Int) -> [Int32] {
        guard let versionPart = versionOnly(spec) else {
            return ids.filter { specs[spec].matches(records[Int($0)]) }
        }
        guard let version = versionPart else { return ids }
        let allowed = rankVersions[Int(specName[spec])].map { version.matches($0) }
        return ids.filter { allowed[Int(rank[Int($0)])] }
    }

    /// The best a spec allows, as rattler ranks it (nil when it matches nothing): its highest version,
    /// below any version whose first record has track_features (so `blas 1.0 openblas`, tracked, ranks
    /// under `blas 1.0 mkl`). Higher is better. It loads the name but does not sort it, so sorting one
    /// name never needs another name sorted.
    mutating func topVersion(_ spec: Int) throws -> Int64? {
        if topKnown[spec] { return topRank[spec] }
        let name = Int(specName[spec])
        var top: Int64?
        var highest: Int32 = -1
        if !loaded[name], let version = versionOnly(spec) {
            // Versions alone rank the name: its records are not built unless a requirement needs them.
            let entries = try rankedVersions(name)
            let allowed = rankVersions[name].map { version?.matches($0) ?? true }
            for entry in entries where allowed[Int(entry.rank)] && entry.rank > highest {
                highest = entry.rank
                top = (entry.tracked ? 0 : 1 << 32) | Int64(highest)
            }
        } else {
            let all = try loadedMembers(name)
            for id in select(all, spec) where rank[Int(id)] > highest {
                highest = rank[Int(id)]
                top = (records[Int(id)].trackFeatures.isEmpty ? 1 << 32 : 0) | Int64(highest)
            }
        }
        topRank[spec] = top
        topKnown[spec] = true
        return top
    }

    /// conda's order (rattler `conda_sorting.rs`): no track_features first, then higher version, higher
    /// build number, then the build whose dependencies allow newer versions (untracked first), then
    /// newer timestamp.
    mutating func preference(_ name: Int) throws -> [Int32] {
        if let known = preferred[name] { return known }
        let ids = try loadedMembers(name)
        // Only builds that tie on version and build number need their dependencies compared.
        var groups: [Int: Int] = [:]
        for id in ids { groups[Int(rank[Int(id)]) * 100_000 + records[Int(id)].buildNumber, default: 0] += 1 }
        var bests: [Int32: [Int: Int64]] = [:]
        for id in ids where groups[Int(rank[Int(id)]) * 100_000 + records[Int(id)].buildNumber, default: 0] > 1 {
            var best: [Int: Int64] = [:]
            for spec in try dependencies(of: Int(id)) {
                if let top = try topVersion(Int(spec)) { best[Int(specName[Int(spec)])] = top }
            }
            bests[id] = best
        }
        let sorted = ids.sorted { a, b in
            let ra = records[Int(a)], rb = records[Int(b)]
            let x = ra.trackFeatures.isEmpty, y = rb.trackFeatures.isEmpty
            if x != y { return x }
            if rank[Int(a)] != rank[Int(b)] { return rank[Int(a)] > rank[Int(b)] }
            if ra.buildNumber != rb.buildNumber { return ra.buildNumber > rb.buildNumber }
            let bx = bests[a] ?? [:], by = bests[b] ?? [:]
            // Shared dependency names in name order, as the eager solver compared them.
            for shared in bx.keys.filter({ by[$0] != nil }).sorted(by: { names[$0] < names[$1] }) {
                if let vx = bx[shared], let vy = by[shared], vx != vy { return vx > vy }
            }
            if ra.timestamp != rb.timestamp { return ra.timestamp > rb.timestamp }
            return ra.fileName < rb.fileName
        }
        preferred[name] = sorted
        return sorted
    }
}
