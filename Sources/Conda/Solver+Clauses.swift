/// Every clause in one flat arena of literals (a literal is `2 * variable` for true, `2 * variable + 1`
/// for false), so that adding a clause is one append and no clause is an array of its own. The first
/// two literals of a clause of two or more are the watched ones; propagation swaps literals in place.
struct ClauseStore {
    var literals: [Int32] = []
    /// Clause `c` is `literals[starts[c] ..< starts[c + 1]]`.
    private(set) var starts: [Int32] = [0]
    /// Per literal: the clauses watching it, as pairs (clause, blocker). The blocker is another literal
    /// of the clause: when it is true the clause is satisfied and propagation need not read the arena,
    /// which is where the time went (a cache miss per visited clause).
    var watches: [[Int32]] = []

    var count: Int { starts.count - 1 }

    func range(_ clause: Int) -> Range<Int> { Int(starts[clause])..<Int(starts[clause + 1]) }

    subscript(position: Int) -> Int32 {
        get { literals[position] }
    }

    /// Room for the literals of `variables` variables.
    mutating func grow(to variables: Int) {
        if watches.count < variables * 2 {
            watches += Array(repeating: [], count: variables * 2 - watches.count)
        }
    }

    /// Appends a clause whose watched literals are already in front; returns its index.
    mutating func append(_ clause: [Int32]) -> Int {
        let index = count
        literals += clause
        starts.append(Int32(literals.count))
        if clause.count > 1 {
            watches[Int(clause[0])].append(Int32(index))
            watches[Int(clause[0])].append(clause[1])
            watches[Int(clause[1])].append(Int32(index))
            watches[Int(clause[1])].append(clause[0])
        }
        return index
    }

    func literals(of clause: Int) -> ArraySlice<Int32> { literals[range(clause)] }
}
