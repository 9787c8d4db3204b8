import Foundation

/// One solve: the pool, the clauses, and the CDCL state.
struct Problem {
    /// Why a literal is false in a conflict: a stored clause, or the implicit at-most-one clause
    /// `¬a ∨ ¬b` between two records of one name.
    enum Conflict {
        case clause(Int)
        case sameName(Int, Int)
    }

    /// A decision has no reason; a record set false because another of its name is true has the reason
    /// `atMostOne - other` (an implicit clause, never stored).
    static let decided: Int32 = -1
    static let atMostOne: Int32 = -2

    var pool: Pool
    var clauses = ClauseStore()
    var missingRoot: MatchSpec?

    // Requirements: one per requested spec (parent -1) and per dependency of a record whose clauses were added.
    var requirementParent: [Int32] = []
    var requirementSpec: [Int32] = []
    var rootRequirements: [Int32] = []
    /// Per record: its first requirement (-1 until its clauses are added) and how many it has.
    var firstRequirement: [Int32] = []
    var requirementCount: [Int32] = []
    /// The requirements of records that are true, in registration order; cut back on backtrack.
    var active: [Int32] = []
    /// `active[..<metPrefix]` are all met; a met requirement stays met until a backtrack.
    var metPrefix = 0

    // CDCL state, per record variable.
    var value: [Int8] = []      // 0 unassigned, 1 true, -1 false
    var level: [Int32] = []
    var reason: [Int32] = []
    var trail: [Int32] = []
    var trailLimits: [Int] = []
    var head = 0
    var unsatisfiable = false
    /// Conflict analysis marks variables with the current epoch instead of filling a set.
    var stamp: [UInt32] = []
    var epoch: UInt32 = 0
    /// resolvo's name activity: bumped for the names in each learnt clause, decayed after each conflict
    /// (by growing the bump instead of shrinking every score).
    var activity: [Double] = []
    var bump = 1.0
    /// Per name: its record that is true (the first on the trail), or -1. Once propagation is done, a
    /// true record's requirement on a name is met exactly when the name has one (every other record
    /// of the name is false, so the requirement's clause would be false otherwise).
    var chosen: [Int32] = []
    /// Per spec: its gate variable, once a requirement with enough candidates used it.
    var gates: [Int32: Int32] = [:]
    /// Decisions and conflicts so far (KILN_SOLVER_STATS=1 prints them).
    var decisions = 0
    var conflicts = 0

    init(specs: [MatchSpec], pool: Pool) throws {
        self.pool = pool
        var roots: [(spec: Int, candidates: [Int32])] = []
        for spec in specs {
            let id = self.pool.specId(spec)
            let candidates = Array(try self.pool.candidates(id))
            if candidates.isEmpty { missingRoot = spec; return }
            roots.append((id, candidates))
        }
        sync()
        for root in roots {
            let requirement = addRequirement(parent: -1, spec: root.spec)
            rootRequirements.append(Int32(requirement))
            if case .some = add(root.candidates.map { $0 * 2 }) { unsatisfiable = true }
        }
    }

    var currentLevel: Int32 { Int32(trailLimits.count) }

    /// Grows the per-variable and per-name state after the pool loaded names.
    mutating func sync() {
        let count = pool.count
        if value.count < count {
            let more = count - value.count
            value += Array(repeating: 0, count: more)
            level += Array(repeating: 0, count: more)
            reason += Array(repeating: Self.decided, count: more)
            stamp += Array(repeating: 0, count: more)
            firstRequirement += Array(repeating: -1, count: more)
            requirementCount += Array(repeating: 0, count: more)
            clauses.grow(to: count)
        }
        if activity.count < pool.names.count {
            activity += Array(repeating: 0, count: pool.names.count - activity.count)
            chosen += Array(repeating: -1, count: pool.names.count - chosen.count)
        }
    }

    mutating func addRequirement(parent: Int, spec: Int) -> Int {
        requirementParent.append(Int32(parent))
        requirementSpec.append(Int32(spec))
        return requirementParent.count - 1
    }

    mutating func run() throws -> [PackageRecord]? {
        if unsatisfiable { return nil }
        while true {
            if let conflict = try propagate() {
                if trailLimits.isEmpty { return nil }
                conflicts += 1
                let (learnt, back) = analyze(conflict)
                backtrack(to: back)
                let index = clauses.append(learnt)
                assign(learnt[0], reason: Int32(index))
                continue
            }
            guard let decision = decide() else {
                // As resolvo does: the records set true since the last round get their clauses only now.
                let fresh = trail.filter { $0 & 1 == 0 && firstRequirement[Int($0 >> 1)] < 0 }.map { Int($0 >> 1) }
                if !fresh.isEmpty {
                    if try !encodeRound(fresh) { return nil }
                    continue
                }
                if ProcessInfo.processInfo.environment["KILN_SOLVER_STATS"] == "1" {
                    FileHandle.standardError.write(Data("solver: \(decisions) decisions, \(conflicts) conflicts, \(pool.count - gates.count) records loaded, \(gates.count) gates, \(clauses.count) clauses, \(active.count) active requirements\n".utf8))
                }
                return (0..<pool.count).filter { value[$0] == 1 && !pool.isGate($0) }.map { pool.records[$0] }
            }
            decisions += 1
            trailLimits.append(trail.count)
            assign(Int32(decision * 2), reason: Self.decided)
        }
    }

    /// resolvo's choice: the first unmet requested spec, else among the unmet dependencies of true
    /// records (in the order they became true) the first, replaced only by one whose name is strictly
    /// more active and that has strictly fewer open candidates. It installs the requirement's most
    /// preferred open candidate. Nil when every requirement is met.
    mutating func decide() -> Int? {
        var best: (activity: Double, count: Int, candidate: Int32)?
        for requirement in rootRequirements { consider(Int(requirement), &best) }
        if best != nil { return best.map { Int($0.candidate) } }
        var position = metPrefix
        var prefix = true
        while position < active.count {
            let requirement = Int(active[position])
            if chosen[Int(pool.specName[Int(requirementSpec[requirement])])] >= 0 {
                if prefix { metPrefix = position + 1 }
            } else {
                prefix = false
                consider(requirement, &best)
            }
            position += 1
        }
        return best.map { Int($0.candidate) }
    }

    /// resolvo's comparison: a later requirement wins only with a strictly more active name and
    /// strictly fewer open candidates, so its candidates are counted only when its name is more active.
    private func consider(_ requirement: Int, _ best: inout (activity: Double, count: Int, candidate: Int32)?) {
        let spec = Int(requirementSpec[requirement])
        let name = Int(pool.specName[spec])
        guard chosen[name] < 0 else { return }
        let score = activity[name]
        if let current = best, score <= current.activity { return }
        var first: Int32 = -1
        var open = 0
        for position in pool.matchRange(spec) {
            let candidate = pool.matches[position]
            if value[Int(candidate)] == 0 {
                if first < 0 { first = candidate }
                open += 1
            }
        }
        guard first >= 0 else { return }
        if let current = best, open >= current.count { return }
        best = (score, open, first)
    }

    /// First-UIP learning: the learnt clause (its asserting literal first, the literal of the level to
    /// jump back to second) and that level. Bumps the activity of the names in it.
    mutating func analyze(_ conflict: Conflict) -> ([Int32], Int) {
        epoch &+= 1
        if epoch == 0 {
            stamp = Array(repeating: 0, count: stamp.count)
            epoch = 1
        }
        var learnt: [Int32] = [0]
        var counter = 0
        var clause: ArraySlice<Int32>
        switch conflict {
        case let .clause(index): clause = clauses.literals(of: index)
        case let .sameName(a, b): clause = [Int32(a * 2 + 1), Int32(b * 2 + 1)][...]
        }
        var pointer = trail.count - 1
        var asserting: Int32 = 0
        let current = currentLevel
        while true {
            for literal in clause {
                let variable = Int(literal >> 1)
                guard stamp[variable] != epoch, level[variable] > 0 else { continue }
                stamp[variable] = epoch
                if level[variable] == current { counter += 1 } else { learnt.append(literal) }
            }
            while stamp[Int(trail[pointer] >> 1)] != epoch { pointer -= 1 }
            asserting = trail[pointer]
            pointer -= 1
            counter -= 1
            if counter <= 0 { break }
            // The reason of the resolved literal: a stored clause, or the implicit `¬it ∨ ¬other`.
            let why = reason[Int(asserting >> 1)]
            clause = why >= 0 ? clauses.literals(of: Int(why)) : [asserting, (Self.atMostOne - why) * 2 + 1][...]
        }
        learnt[0] = asserting ^ 1
        var back = 0
        if learnt.count > 1 {
            var highest = 1
            for position in 1..<learnt.count where level[Int(learnt[position] >> 1)] > level[Int(learnt[highest] >> 1)] { highest = position }
            learnt.swapAt(1, highest)
            back = Int(level[Int(learnt[1] >> 1)])
        }
        for literal in learnt where !pool.isGate(Int(literal >> 1)) { activity[pool.name(of: Int(literal >> 1))] += bump }
        bump /= 0.95
        if bump > 1e100 {
            for name in activity.indices { activity[name] *= 1e-100 }
            bump *= 1e-100
        }
        return (learnt, back)
    }

    /// Conflicts up to which a round of clauses that are false already restarts the search from level
    /// 0, as resolvo does. Restarting lets the next descent see those clauses before it decides, which
    /// on wide problems (the synthetic channel) saves most of the search; on deep ones (the hard
    /// channel) it throws away too much, so past this many conflicts the round is learnt from instead.
    static let restartingConflicts = 1_000

    /// Adds the clauses of records that became true since the last round (a unit one propagates at
    /// once, at the current level). Returns false when the request is unsatisfiable.
    mutating func encodeRound(_ fresh: [Int]) throws -> Bool {
        let added = clauses.count
        var conflicting = false
        for variable in fresh {
            if try encode(variable) != nil { conflicting = true }
            let first = Int(firstRequirement[variable])
            for requirement in first..<(first + Int(requirementCount[variable])) { active.append(Int32(requirement)) }
        }
        guard conflicting else { return true }
        conflicts += 1
        if conflicts <= Self.restartingConflicts { return restart(checking: added..<clauses.count) }
        // While one of them is false, back up to the level where it became false and learn from it as
        // from any conflict, so that no clause stays false unnoticed.
        let end = clauses.count
        while true {
            // The false clause that became false earliest: below its level every other one is open.
            var lowest: (clause: Int, level: Int32)?
            for clause in added..<end {
                var highest: Int32 = -1
                for literal in clauses.literals(of: clause) {
                    guard valueOf(literal) == -1 else { highest = -1; break }
                    highest = max(highest, level[Int(literal >> 1)])
                }
                if highest >= 0, lowest.map({ highest < $0.level }) ?? true { lowest = (clause, highest) }
            }
            guard let found = lowest else { return true }
            if found.level == 0 { return false }
            backtrack(to: Int(found.level))
            let (learnt, back) = analyze(.clause(found.clause))
            backtrack(to: back)
            let index = clauses.append(learnt)
            assign(learnt[0], reason: Int32(index))
        }
    }

    /// Backs up to level 0 and propagates there what the `added` clauses imply; false when one of them
    /// is false at level 0. (Their watches were chosen for the old assignment: a clause unit only at
    /// level 0 is propagated here, so none is left unit without a watch on its open literal.)
    mutating func restart(checking added: Range<Int>) -> Bool {
        backtrack(to: 0)
        for clause in added {
            var open: Int32?
            var openCount = 0
            var satisfied = false
            for literal in clauses.literals(of: clause) {
                let state = valueOf(literal)
                if state == 1 { satisfied = true; break }
                if state == 0 { open = literal; openCount += 1 }
            }
            if satisfied || openCount > 1 { continue }
            guard let unit = open else { return false }
            assign(unit, reason: Int32(clause))
        }
        return true
    }

    /// Puts the requirements of a record that became true again into `active` at their place in
    /// registration order (requirement ids grow as records are encoded), as resolvo's decide queue
    /// orders its clauses: a record keeps the place it got when first encoded.
    mutating func activate(_ variable: Int) {
        let first = Int32(firstRequirement[variable])
        let count = Int32(requirementCount[variable])
        guard count > 0 else { return }
        var low = 0
        var high = active.count
        while low < high {
            let middle = (low + high) / 2
            if active[middle] < first { low = middle + 1 } else { high = middle }
        }
        active.insert(contentsOf: first..<(first + count), at: low)
        metPrefix = min(metPrefix, low)
    }

    mutating func backtrack(to target: Int) {
        guard trailLimits.count > target else { return }
        let keep = trailLimits[target]
        // Through buffer pointers: a backjump undoes thousands of assignments (each true record set 71 others
        // false on the hard bench), and each array write would check the array's uniqueness again.
        value.withUnsafeMutableBufferPointer { value in
            reason.withUnsafeMutableBufferPointer { reason in
                for literal in trail[keep...] {
                    let variable = Int(literal >> 1)
                    if literal & 1 == 0, chosen[pool.name(of: variable)] == Int32(variable) { chosen[pool.name(of: variable)] = -1 }
                    value[variable] = 0
                    reason[variable] = Self.decided
                }
            }
        }
        trail.removeSubrange(keep...)
        trailLimits.removeSubrange(target...)
        active.removeAll { value[Int(requirementParent[Int($0)])] != 1 }
        metPrefix = 0
        head = min(head, trail.count)
    }
}
