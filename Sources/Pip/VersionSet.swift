/// A set of versions of one package, as a bitset over that package's finite list of known versions
/// (its universe, best first). Finite universes make complement and subset exact and cheap.
struct VersionSet: Hashable {
    var words: [UInt64]
    let count: Int

    init(count: Int, all: Bool = false) {
        self.count = count
        words = Array(repeating: all ? ~0 : 0, count: (count + 63) / 64)
        if all { trim() }
    }

    init(count: Int, indices: some Sequence<Int>) {
        self.init(count: count)
        for index in indices { insert(index) }
    }

    mutating func trim() {
        let extra = words.count * 64 - count
        if extra > 0, !words.isEmpty { words[words.count - 1] &= ~0 >> UInt64(extra) }
    }

    mutating func insert(_ index: Int) { words[index / 64] |= 1 << UInt64(index % 64) }
    func contains(_ index: Int) -> Bool { words[index / 64] & (1 << UInt64(index % 64)) != 0 }
    var isEmpty: Bool { words.allSatisfy { $0 == 0 } }
    var isFull: Bool { self == VersionSet(count: count, all: true) }
    var cardinality: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// Indices in order, best version first.
    var indices: [Int] { (0..<count).filter(contains) }
    var first: Int? { (0..<count).first(where: contains) }

    func union(_ other: VersionSet) -> VersionSet { combine(other) { $0 | $1 } }
    func intersection(_ other: VersionSet) -> VersionSet { combine(other) { $0 & $1 } }
    func subtracting(_ other: VersionSet) -> VersionSet { combine(other) { $0 & ~$1 } }
    var complement: VersionSet {
        var result = self
        result.words = words.map { ~$0 }
        result.trim()
        return result
    }

    func combine(_ other: VersionSet, _ operation: (UInt64, UInt64) -> UInt64) -> VersionSet {
        var result = self
        for index in words.indices { result.words[index] = operation(words[index], other.words[index]) }
        return result
    }
}

/// A PubGrub term: "the package is selected at a version in `set`" (positive), or "it is not selected
/// at any version in `set`" (negative; it may be absent altogether).
struct Term: Hashable {
    let package: Int
    var positive: Bool
    var set: VersionSet

    var negated: Term { Term(package: package, positive: !positive, set: set) }

    func intersection(_ other: Term) -> Term {
        switch (positive, other.positive) {
        case (true, true): return Term(package: package, positive: true, set: set.intersection(other.set))
        case (true, false): return Term(package: package, positive: true, set: set.subtracting(other.set))
        case (false, true): return Term(package: package, positive: true, set: other.set.subtracting(set))
        case (false, false): return Term(package: package, positive: false, set: set.union(other.set))
        }
    }

    func union(_ other: Term) -> Term { negated.intersection(other.negated).negated }

    var isEmpty: Bool { positive && set.isEmpty }
    /// Negative of nothing: true of every partial solution.
    var isAny: Bool { !positive && set.isEmpty }

    func isSubset(of other: Term) -> Bool { intersection(other) == self }

    func isDisjoint(with other: Term) -> Bool { intersection(other).isEmpty }
}
