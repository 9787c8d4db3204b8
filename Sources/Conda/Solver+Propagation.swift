extension Problem {
    @inline(__always) func valueOf(_ literal: Int32) -> Int8 {
        let v = value[Int(literal >> 1)]
        return literal & 1 == 0 ? v : -v
    }

    mutating func assign(_ literal: Int32, reason why: Int32) {
        let variable = Int(literal >> 1)
        if literal & 1 == 0 {
            value[variable] = 1
            let name = pool.name(of: variable)
            if chosen[name] < 0 { chosen[name] = Int32(variable) }
        } else {
            value[variable] = -1
        }
        level[variable] = currentLevel
        reason[variable] = why
        trail.append(literal)
    }

    /// Stores a clause made while the search is under way, watching its two best literals (true, then
    /// open, then false at the highest level), and propagates it if it is unit. Returns it when every
    /// literal is false.
    mutating func add(_ input: [Int32]) -> Conflict? {
        var literals = input
        func score(_ literal: Int32) -> Int64 {
            switch valueOf(literal) {
            case 1: return Int64.max
            case 0: return Int64.max - 1
            default: return Int64(level[Int(literal >> 1)])
            }
        }
        for slot in 0..<min(2, literals.count) {
            var best = slot
            for position in (slot + 1)..<literals.count where score(literals[position]) > score(literals[best]) { best = position }
            literals.swapAt(slot, best)
        }
        let index = clauses.append(literals)
        guard let first = literals.first else { return nil }
        let firstValue = valueOf(first)
        if firstValue == 1 { return nil }
        if literals.count > 1, valueOf(literals[1]) != -1 { return nil }
        if firstValue == -1 { return .clause(index) }
        assign(first, reason: Int32(index))
        return nil
    }

    /// Unit propagation with two watched literals, updated in place. A record that becomes true sets
    /// every other record of its name false (at most one per name, with no stored clauses), and gets
    /// its requires and constrains clauses the first time. Returns a conflict.
    mutating func propagate() throws -> Conflict? {
        while head < trail.count {
            let literal = trail[head]
            head += 1
            if literal & 1 == 0 {
                let variable = Int(literal >> 1)
                if let other = forbidOthers(of: variable) { return .sameName(variable, other) }
                // A record's clauses are added in rounds (`encodeRound`); one that has them gets its
                // requirements checked again.
                if firstRequirement[variable] >= 0 {
                    activate(variable)
                }
            }
            if let conflict = propagateWatches(of: literal ^ 1) { return conflict }
        }
        return nil
    }

    /// Sets every open record of `variable`'s name false (as `assign` would, with the implicit
    /// at-most-one reason), or returns one that is already true. Through buffer pointers: a true record
    /// of a name with 72 builds makes 71 assignments, and each array write would check uniqueness.
    private mutating func forbidOthers(of variable: Int) -> Int? {
        let members = pool.members[pool.name(of: variable)]
        let why = Self.atMostOne - Int32(variable)
        let at = currentLevel
        var clash: Int?
        value.withUnsafeMutableBufferPointer { value in
            level.withUnsafeMutableBufferPointer { level in
                reason.withUnsafeMutableBufferPointer { reason in
                    for other in members where Int(other) != variable {
                        let slot = Int(other)
                        switch value[slot] {
                        case 1:
                            clash = slot
                            return
                        case 0:
                            value[slot] = -1
                            level[slot] = at
                            reason[slot] = why
                            trail.append(other * 2 + 1)
                        default: break
                        }
                    }
                }
            }
        }
        return clash
    }

    /// Visits the clauses watching `falseLiteral`, which just became false. The watch list, the arena
    /// and the other watch lists are moved out of `self` for the loop (O(1)), so that the loop works on
    /// uniquely owned buffers without copy-on-write checks.
    private mutating func propagateWatches(of falseLiteral: Int32) -> Conflict? {
        // Most lists are empty (15 M of 22 M on the hard bench): a read says so without the swaps' writes.
        if clauses.watches[Int(falseLiteral)].isEmpty { return nil }
        var list: [Int32] = []
        swap(&list, &clauses.watches[Int(falseLiteral)])
        let count = list.count
        var arena: [Int32] = []
        swap(&arena, &clauses.literals)
        var watches: [[Int32]] = []
        swap(&watches, &clauses.watches)
        defer {
            swap(&watches, &clauses.watches)
            swap(&arena, &clauses.literals)
            swap(&list, &clauses.watches[Int(falseLiteral)])
        }
        var found: Conflict?
        var kept = 0
        var index = 0
        list.withUnsafeMutableBufferPointer { entries in
            arena.withUnsafeMutableBufferPointer { lits in
                while index < count {
                    let clause = Int(entries[index])
                    let blocker = entries[index + 1]
                    index += 2
                    if valueOf(blocker) == 1 {
                        entries[kept] = Int32(clause)
                        entries[kept + 1] = blocker
                        kept += 2
                        continue
                    }
                    let range = clauses.range(clause)
                    let start = range.lowerBound
                    if lits[start] == falseLiteral {
                        lits[start] = lits[start + 1]
                        lits[start + 1] = falseLiteral
                    }
                    let first = lits[start]
                    let firstValue = valueOf(first)
                    if firstValue == 1 {
                        entries[kept] = Int32(clause)
                        entries[kept + 1] = first
                        kept += 2
                        continue
                    }
                    var moved = false
                    var position = start + 2
                    while position < range.upperBound {
                        let candidate = lits[position]
                        if valueOf(candidate) != -1 {
                            lits[position] = falseLiteral
                            lits[start + 1] = candidate
                            watches[Int(candidate)].append(Int32(clause))
                            watches[Int(candidate)].append(first)
                            moved = true
                            break
                        }
                        position += 1
                    }
                    if moved { continue }
                    entries[kept] = Int32(clause)
                    entries[kept + 1] = first
                    kept += 2
                    if firstValue == -1 {
                        while index < count {
                            entries[kept] = entries[index]
                            kept += 1
                            index += 1
                        }
                        found = .clause(clause)
                        return
                    }
                    assign(first, reason: Int32(clause))
                }
            }
        }
        list.removeLast(count - kept)
        return found
    }

    /// Requirements with at least this many candidates are encoded through a gate (resolvo 0.11's
    /// threshold); smaller ones as one clause per requirer.
    static let gatedCandidates = 4

    /// The gate of a spec, made the first time: one clause `¬gate ∨ candidates…` shared by every record
    /// that requires the spec, each of which adds only `¬record ∨ gate` (resolvo's shared requires
    /// encoding). Besides storing each long clause once, a conflict on the candidates is learnt as
    /// `¬gate`, which holds for every requirer at once, not for one record. A gate is never encoded and
    /// has no requirements of its own: the requirer keeps the requirement for `decide`, so a gate left
    /// open by a backjump loses nothing (the requirement is still decided, and a candidate-less name
    /// still falsifies the gate and, through it, the requirer).
    mutating func gate(_ spec: Int, _ candidates: [Int32]) throws -> Int32 {
        if let known = gates[Int32(spec)] { return known }
        let gate = try pool.addGate()
        sync()
        firstRequirement[gate] = 0
        gates[Int32(spec)] = Int32(gate)
        // Never false at once: its first literal is open, so at worst it propagates `¬gate`.
        _ = add([Int32(gate * 2 + 1)] + candidates.map { $0 * 2 })
        return Int32(gate)
    }

    /// Adds a record's requires clauses (`¬record ∨ candidates…`) and constrains clauses
    /// (`¬record ∨ ¬other` for each record of the constrained name outside the spec), loading the names
    /// they mention. All are added even after a conflict, since they are added only once.
    mutating func encode(_ variable: Int) throws -> Conflict? {
        var conflict: Conflict?
        let dependencies = try pool.dependencies(of: variable)
        firstRequirement[variable] = Int32(requirementParent.count)
        requirementCount[variable] = Int32(dependencies.count)
        var requirements: [(spec: Int, candidates: [Int32])] = []
        for spec in dependencies {
            requirements.append((Int(spec), Array(try pool.candidates(Int(spec)))))
        }
        for requirement in requirements { _ = addRequirement(parent: variable, spec: requirement.spec) }
        sync()
        let negated = Int32(variable * 2 + 1)
        for requirement in requirements {
            let found: Conflict?
            if requirement.candidates.count >= Self.gatedCandidates {
                found = add([negated, try gate(requirement.spec, requirement.candidates) * 2])
            } else {
                found = add([negated] + requirement.candidates.map { $0 * 2 })
            }
            if conflict == nil { conflict = found }
        }
        for text in pool.records[variable].constrains {
            guard let spec = try? pool.specId(text) else { continue }
            let others = try pool.loadedMembers(Int(pool.specName[spec]))
            sync()
            for other in others where Int(other) != variable && !pool.specs[spec].matches(pool.records[Int(other)]) {
                let found = add([negated, other * 2 + 1])
                if conflict == nil { conflict = found }
            }
        }
        return conflict
    }
}
