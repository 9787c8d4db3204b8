import Foundation

/// Where the solver gets candidates: every record of one name, already filtered by channel priority.
public protocol RecordSource: Sendable {
    func records(named name: String) throws -> [PackageRecord]
}

/// A complete conda solver: CDCL over one boolean per candidate record (as resolvo and libsolv encode
/// it), with conda's preferences driving the decisions. Names are loaded lazily, only when some
/// candidate can depend on them. It finds a solution whenever one exists; when none does, it names
/// the smallest set of requested specs that conflict and the package they disagree on.
public struct Solver: Sendable {
    public var source: RecordSource
    public var virtualPackages: [PackageRecord]
    /// conda appends `pip` to every python 2/3 record's depends (`add_pip_as_python_dependency`).
    public var addPipToPython: Bool

    public init(source: RecordSource, virtualPackages: [PackageRecord] = [], addPipToPython: Bool = true) {
        self.source = source
        self.virtualPackages = virtualPackages
        self.addPipToPython = addPipToPython
    }

    public func solve(_ specs: [MatchSpec]) throws -> [PackageRecord] {
        var problem = try Problem(specs: specs, source: source, virtual: virtualPackages, addPip: addPipToPython)
        if let missing = problem.missingRoot {
            throw CondaError.unsatisfiable("nothing in the channels provides '\(missing.source)'" + Self.hint(missing.name))
        }
        if let solution = problem.run() {
            return solution.filter { !$0.isVirtual }.sorted { $0.name < $1.name }
        }
        throw CondaError.unsatisfiable(try explain(specs))
    }

    static func hint(_ name: String) -> String {
        name.hasPrefix("__") ? " (a virtual package: it comes from the base image, or set \(name)=VERSION as a virtual package)" : ""
    }

    func satisfiable(_ specs: [MatchSpec]) throws -> Bool {
        var problem = try Problem(specs: specs, source: source, virtual: virtualPackages, addPip: addPipToPython)
        return problem.missingRoot == nil && problem.run() != nil
    }

    /// Shrinks the request to a minimal conflicting set, then says which package its members disagree on.
    func explain(_ specs: [MatchSpec]) throws -> String {
        var core = specs
        for spec in specs where core.count > 1 {
            let trial = core.filter { $0 != spec }
            if try !satisfiable(trial) { core = trial }
        }
        let problem = try Problem(specs: core, source: source, virtual: virtualPackages, addPip: addPipToPython)
        return problem.describeConflict(core)
    }
}

/// One solve: the candidates, the clauses, and the CDCL state.
struct Problem {
    var records: [PackageRecord] = []
    var byName: [String: [Int]] = [:]
    var clauses: [[Int]] = []            // literals: 2*var (true) or 2*var+1 (false)
    var requirementsOf: [[Int]] = []     // per var: indices of its dependency clauses
    var rootClauses: [Int] = []
    var missingRoot: MatchSpec?
    var specCache: [String: MatchSpec] = [:]
    /// Candidates per dependency text: the same text recurs across thousands of records.
    var candidateCache: [String: [Int]] = [:]
    var topVersionCache: [String: Int?] = [:]
    /// Each record's version as a rank among its name's versions (equal versions, equal rank), so
    /// that sorting compares integers, not version strings.
    var rank: [Int] = []
    var dependencies: [[(spec: MatchSpec, candidates: [Int])]] = []

    // CDCL state
    var value: [Int8] = []      // 0 unassigned, 1 true, -1 false (per var)
    var level: [Int] = []
    var reason: [Int] = []      // clause index, -1 for decisions
    var trail: [Int] = []
    var trailLimits: [Int] = []
    var watches: [[Int]] = []
    var head = 0
    var unsatisfiable = false

    init(specs: [MatchSpec], source: RecordSource, virtual: [PackageRecord], addPip: Bool) throws {
        var queue = specs.map(\.name)
        var seen = Set<String>()
        while let name = queue.popLast() {
            guard seen.insert(name).inserted else { continue }
            var found = name.hasPrefix("__") ? virtual.filter { $0.name == name } : try source.records(named: name)
            if addPip, name == "python" {
                found = found.map { record in
                    var copy = record
                    if record.version.description.hasPrefix("2.") || record.version.description.hasPrefix("3."), !copy.depends.contains(where: { $0.split(separator: " ").first == "pip" }) {
                        copy.depends.append("pip")
                    }
                    return copy
                }
            }
            for record in found {
                for dependency in record.depends {
                    let spec = try parse(dependency)
                    if !seen.contains(spec.name) { queue.append(spec.name) }
                }
            }
            let start = records.count
            records += found
            byName[name] = Array(start..<records.count)
        }
        rank = Array(repeating: 0, count: records.count)
        for ids in byName.values {
            let ordered = ids.sorted { records[$0].version < records[$1].version }
            var current = 0
            for (position, id) in ordered.enumerated() {
                if position > 0, records[ordered[position - 1]].version < records[id].version { current += 1 }
                rank[id] = current
            }
        }
        for (name, ids) in byName { byName[name] = sortByPreference(ids) }
        candidateCache = [:]   // rebuilt below in preference order
        let count = records.count
        value = Array(repeating: 0, count: count)
        level = Array(repeating: 0, count: count)
        reason = Array(repeating: -1, count: count)
        watches = Array(repeating: [], count: count * 2)
        requirementsOf = Array(repeating: [], count: count)
        dependencies = Array(repeating: [], count: count)

        for spec in specs {
            let candidates = (byName[spec.name] ?? []).filter { spec.matches(records[$0]) }
            if candidates.isEmpty { missingRoot = spec; return }
            rootClauses.append(addClause(candidates.map { $0 * 2 }))
        }
        for variable in 0..<count {
            for dependency in records[variable].depends {
                let spec = try parse(dependency)
                let candidates = candidates(for: dependency, spec)
                dependencies[variable].append((spec, candidates))
                requirementsOf[variable].append(addClause([variable * 2 + 1] + candidates.map { $0 * 2 }))
            }
            for constraint in records[variable].constrains {
                guard let spec = try? parse(constraint), let others = byName[spec.name] else { continue }
                for other in others where !spec.matches(records[other]) {
                    _ = addClause([variable * 2 + 1, other * 2 + 1])
                }
            }
        }
    }

    mutating func candidates(for text: String, _ spec: MatchSpec) -> [Int] {
        if let cached = candidateCache[text] { return cached }
        let found = (byName[spec.name] ?? []).filter { spec.matches(records[$0]) }
        candidateCache[text] = found
        return found
    }

    /// The highest version a dependency text allows, cached like its candidates.
    mutating func topVersion(for text: String, _ spec: MatchSpec) -> Int? {
        if let cached = topVersionCache[text] { return cached }
        let top = candidates(for: text, spec).map { rank[$0] }.max()
        topVersionCache[text] = top
        return top
    }

    mutating func parse(_ text: String) throws -> MatchSpec {
        if let cached = specCache[text] { return cached }
        let spec = try MatchSpec(parsing: text)
        specCache[text] = spec
        return spec
    }

    /// conda's order (rattler `conda_sorting.rs`): no track_features first, then higher version, higher
    /// build number, then the build whose dependencies allow newer versions, then newer timestamp.
    mutating func sortByPreference(_ ids: [Int]) -> [Int] {
        var bestCache: [Int: [String: Int]] = [:]
        func best(_ id: Int, _ problem: inout Problem) -> [String: Int] {
            if let cached = bestCache[id] { return cached }
            var result: [String: Int] = [:]
            for dependency in problem.records[id].depends {
                guard let spec = problem.specCache[dependency] else { continue }
                if let top = problem.topVersion(for: dependency, spec) { result[spec.name] = top }
            }
            bestCache[id] = result
            return result
        }
        // Only builds that tie on version and build number need their dependencies compared.
        var ties = Set<Int>()
        let grouped = Dictionary(grouping: ids) { rank[$0] * 100_000 + records[$0].buildNumber }
        for group in grouped.values where group.count > 1 { ties.formUnion(group) }
        var bests: [Int: [String: Int]] = [:]
        for id in ties { bests[id] = best(id, &self) }
        return ids.sorted { a, b in
            let x = records[a].trackFeatures.isEmpty, y = records[b].trackFeatures.isEmpty
            if x != y { return x }
            if rank[a] != rank[b] { return rank[a] > rank[b] }
            if records[a].buildNumber != records[b].buildNumber { return records[a].buildNumber > records[b].buildNumber }
            let bx = bests[a] ?? [:], by = bests[b] ?? [:]
            for name in Set(bx.keys).intersection(by.keys).sorted() {
                if let vx = bx[name], let vy = by[name], vx != vy { return vx > vy }
            }
            if records[a].timestamp != records[b].timestamp { return records[a].timestamp > records[b].timestamp }
            return records[a].fileName < records[b].fileName
        }
    }

    mutating func addClause(_ literals: [Int]) -> Int {
        let index = clauses.count
        clauses.append(literals)
        if literals.count == 1 {
            if !enqueue(literals[0], reason: index) { unsatisfiable = true }
        } else if literals.count > 1 {
            watches[literals[0]].append(index)
            watches[literals[1]].append(index)
        }
        return index
    }

    func valueOf(_ literal: Int) -> Int8 {
        let v = value[literal >> 1]
        return literal & 1 == 0 ? v : -v
    }

    mutating func enqueue(_ literal: Int, reason clause: Int) -> Bool {
        let current = valueOf(literal)
        if current != 0 { return current == 1 }
        let variable = literal >> 1
        value[variable] = literal & 1 == 0 ? 1 : -1
        level[variable] = trailLimits.count
        reason[variable] = clause
        trail.append(literal)
        return true
    }

    /// Unit propagation with two watched literals, plus "at most one record per name" enforced
    /// natively (its binary clauses are made only when they explain something). Returns a conflict.
    mutating func propagate() -> Int? {
        while head < trail.count {
            let literal = trail[head]
            head += 1
            if literal & 1 == 0 {
                let variable = literal >> 1
                for other in byName[records[variable].name] ?? [] where other != variable {
                    switch value[other] {
                    case 1:
                        clauses.append([variable * 2 + 1, other * 2 + 1])
                        return clauses.count - 1
                    case 0:
                        clauses.append([other * 2 + 1, variable * 2 + 1])
                        _ = enqueue(other * 2 + 1, reason: clauses.count - 1)
                    default: break
                    }
                }
            }
            let falseLiteral = literal ^ 1
            var kept: [Int] = []
            let watching = watches[falseLiteral]
            kept.reserveCapacity(watching.count)
            var index = 0
            while index < watching.count {
                let clauseIndex = watching[index]
                index += 1
                if clauses[clauseIndex][0] == falseLiteral { clauses[clauseIndex].swapAt(0, 1) }
                let first = clauses[clauseIndex][0]
                if valueOf(first) == 1 {
                    kept.append(clauseIndex)
                    continue
                }
                var moved = false
                let count = clauses[clauseIndex].count
                var position = 2
                while position < count {
                    if valueOf(clauses[clauseIndex][position]) != -1 {
                        clauses[clauseIndex].swapAt(1, position)
                        watches[clauses[clauseIndex][1]].append(clauseIndex)
                        moved = true
                        break
                    }
                    position += 1
                }
                if moved { continue }
                kept.append(clauseIndex)
                if !enqueue(first, reason: clauseIndex) {
                    kept += watching[index...]
                    watches[falseLiteral] = kept
                    return clauseIndex
                }
            }
            watches[falseLiteral] = kept
        }
        return nil
    }

    /// First-UIP learning: the learnt clause and the level to jump back to.
    func analyze(_ conflict: Int) -> ([Int], Int) {
        var seen = Set<Int>()
        var learnt = [0]
        var counter = 0
        var clause = clauses[conflict]
        var pointer = trail.count - 1
        var asserting = -1
        let current = trailLimits.count
        while true {
            for literal in clause where asserting == -1 || literal != asserting {
                let variable = literal >> 1
                guard !seen.contains(variable), level[variable] > 0 else { continue }
                seen.insert(variable)
                if level[variable] == current { counter += 1 } else { learnt.append(literal) }
            }
            while !seen.contains(trail[pointer] >> 1) { pointer -= 1 }
            asserting = trail[pointer]
            pointer -= 1
            seen.remove(asserting >> 1)
            counter -= 1
            if counter <= 0 { break }
            clause = clauses[reason[asserting >> 1]]
        }
        learnt[0] = asserting ^ 1
        var back = 0
        if learnt.count > 1 {
            var highest = 1
            for position in 1..<learnt.count where level[learnt[position] >> 1] > level[learnt[highest] >> 1] { highest = position }
            learnt.swapAt(1, highest)
            back = level[learnt[1] >> 1]
        }
        return (learnt, back)
    }

    mutating func backtrack(to target: Int) {
        guard trailLimits.count > target else { return }
        let keep = trailLimits[target]
        for literal in trail[keep...] {
            let variable = literal >> 1
            value[variable] = 0
            reason[variable] = -1
        }
        trail.removeSubrange(keep...)
        trailLimits.removeSubrange(target...)
        head = min(head, trail.count)
    }

    /// The first requirement not yet met (requested specs, then the dependencies of chosen records in
    /// the order they were chosen) and its most preferred open candidate; nil when all are met.
    func nextDecision() -> Int? {
        func open(_ clauseIndex: Int) -> Int? {
            var first: Int?
            for literal in clauses[clauseIndex] {
                let v = valueOf(literal)
                if v == 1 { return nil }
                if v == 0, literal & 1 == 0, first == nil { first = literal }
            }
            return first
        }
        for clause in rootClauses { if let literal = open(clause) { return literal } }
        for literal in trail where literal & 1 == 0 {
            for clause in requirementsOf[literal >> 1] { if let candidate = open(clause) { return candidate } }
        }
        return nil
    }

    mutating func run() -> [PackageRecord]? {
        if unsatisfiable { return nil }
        while true {
            if let conflict = propagate() {
                if trailLimits.isEmpty { return nil }
                let (learnt, back) = analyze(conflict)
                backtrack(to: back)
                let index = clauses.count
                clauses.append(learnt)
                if learnt.count > 1 {
                    watches[learnt[0]].append(index)
                    watches[learnt[1]].append(index)
                }
                _ = enqueue(learnt[0], reason: index)
                continue
            }
            guard let decision = nextDecision() else {
                return (0..<records.count).filter { value[$0] == 1 }.map { records[$0] }
            }
            trailLimits.append(trail.count)
            _ = enqueue(decision, reason: -1)
        }
    }

    /// What a minimal conflicting request disagrees about, in words.
    func describeConflict(_ core: [MatchSpec]) -> String {
        func versions(_ ids: Set<Int>) -> String {
            let list = Array(Set(ids.map { records[$0].version.description })).sorted()
            return list.count > 6 ? list.prefix(6).joined(separator: ", ") + ", …" : list.joined(separator: ", ")
        }
        // For each requested spec, the candidates of every name it can reach.
        var reach: [[String: Set<Int>]] = []
        for spec in core {
            var allowed: [String: Set<Int>] = [:]
            var queue = (byName[spec.name] ?? []).filter { spec.matches(records[$0]) }
            allowed[spec.name] = Set(queue)
            while let variable = queue.popLast() {
                for (dependency, candidates) in dependencies[variable] {
                    let fresh = candidates.filter { !(allowed[dependency.name]?.contains($0) ?? false) }
                    allowed[dependency.name, default: []].formUnion(fresh)
                    queue += fresh
                }
            }
            // A constrains entry narrows what the spec allows, without requiring the package.
            for variable in allowed.values.flatMap({ $0 }) {
                for text in records[variable].constrains {
                    guard let constraint = try? MatchSpec(parsing: text), let current = allowed[constraint.name] else { continue }
                    allowed[constraint.name] = current.filter { constraint.matches(records[$0]) }
                }
            }
            reach.append(allowed)
        }
        if core.count == 1, let spec = core.first {
            for variable in reach[0][spec.name] ?? [] {
                if let missing = dependencies[variable].first(where: { $0.candidates.isEmpty }) {
                    let available = (byName[missing.spec.name] ?? []).map { records[$0].version.description }
                    let have = available.isEmpty ? "nothing provides it" : "only \(missing.spec.name) \(Array(Set(available)).sorted().joined(separator: ", ")) is available"
                    return "\(records[variable].name) \(records[variable].version) (\(records[variable].build)) needs '\(missing.spec.source)', but \(have)" + Solver.hint(missing.spec.name)
                }
            }
            return "no build of '\(spec.source)' has installable dependencies"
        }
        let names = Set(reach.flatMap(\.keys)).sorted()
        for name in names {
            let reaching = core.indices.filter { reach[$0][name] != nil }
            guard reaching.count > 1 else { continue }
            let common = reaching.dropFirst().reduce(reach[reaching[0]][name] ?? []) { $0.intersection(reach[$1][name] ?? []) }
            if common.isEmpty {
                let parts = reaching.map { "'\(core[$0].source)' needs \(name) \(versions(reach[$0][name] ?? []))" }
                return parts.joined(separator: "; ") + "; no \(name) satisfies all of them"
            }
        }
        return "the requested specs " + core.map { "'\($0.source)'" }.joined(separator: ", ") + " cannot be installed together"
    }
}
