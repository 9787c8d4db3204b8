import Foundation

/// One version of a package as the resolver sees it.
public struct Candidate: Sendable {
    public enum Origin: Sendable {
        /// The best wheel of this version for the target.
        case wheel(DistributionFile)
        /// Only a source distribution fits; its wheel is built (PEP 517) when it is needed.
        case sdist(DistributionFile)
        /// Already in the environment (installed by conda); kept as it is.
        case installed(InstalledDistribution)
        /// Cannot be used; `reason` completes "<name> <versions> …", and equal reasons are grouped.
        case unavailable(reason: String)
    }

    public var version: PythonVersion
    public var origin: Origin

    public init(version: PythonVersion, origin: Origin) {
        self.version = version
        self.origin = origin
    }
}

/// What the resolver needs from an index and an environment.
public protocol ResolverSource: Sendable {
    /// The versions of the project `key` (normalized), best first; empty when no source has it.
    func candidates(_ key: String) async throws -> [Candidate]
    /// The requirements of one candidate (its Requires-Dist, markers not yet evaluated).
    func requirements(_ key: String, _ candidate: Candidate) async throws -> [Requirement]
    /// A hint that `key` will be needed soon.
    func prefetch(_ key: String) async
    /// A hint that this candidate's requirements will be needed soon.
    func prefetchRequirements(_ key: String, _ candidate: Candidate) async
}

/// The outcome of a resolution: one candidate per project, and who asked for it.
public struct Resolution: Sendable {
    public struct Pick: Sendable {
        public var key: String
        public var name: String
        public var candidate: Candidate
        /// Extras some requirement asked for.
        public var extras: [String]
        /// Named by the requirements themselves (gets `REQUESTED`).
        public var requested: Bool
    }

    /// Sorted by key.
    public var picks: [Pick]
    /// One line each: a requested package held below its newest version only because something it needs
    /// cannot be installed (see `PipJob.downgrades`).
    public var warnings: [String] = []
}

/// A PubGrub resolver (Weizenbaum's algorithm, as in pubgrub-rs and uv): unit propagation over
/// incompatibilities, decisions at the best version, conflict-driven learning and backjumping, and an
/// explanation built from the derivation of the final incompatibility. Extras are virtual packages
/// `name[extra]` that pin `name` to their own version.
public final class Resolver {
    let source: any ResolverSource
    let environment: MarkerEnvironment
    let allowPrereleases: Bool
    /// Decides unusable versions as if they had no requirements, to learn what a resolution would be
    /// without them (the downgrade warning), never to install.
    let ignoringUnavailable: Bool

    // Packages: 0 is the root. Each has a name and a universe of candidates, best first.
    var names: [String] = []
    var bases: [String] = []
    var extrasOf: [String?] = []
    var universes: [[Candidate]] = []
    var ids: [String: Int] = [:]

    var incompatibilities: [Incompatibility] = []
    var byPackage: [[Int]] = []
    var unavailableAdded: Set<Int> = []

    // The partial solution.
    var assignments: [Assignment] = []
    var assignmentsByPackage: [[Int]] = []
    var decided: [Int: Int] = [:]
    var level = 0

    public init(source: any ResolverSource, environment: MarkerEnvironment, allowPrereleases: Bool = false, ignoringUnavailable: Bool = false) {
        self.source = source
        self.environment = environment
        self.allowPrereleases = allowPrereleases
        self.ignoringUnavailable = ignoringUnavailable
    }

    struct Incompatibility {
        var terms: [Term]
        var cause: Cause
    }

    enum Cause {
        case root
        /// An external fact, already phrased.
        case external(String)
        case derived(Int, Int)
    }

    struct Assignment {
        var term: Term
        var level: Int
        /// nil for a decision.
        var cause: Int?
    }

    // MARK: packages

    func package(_ key: String) async throws -> Int {
        if let id = ids[key] { return id }
        var base = key, extra: String?
        if let open = key.firstIndex(of: "[") {
            base = String(key[..<open])
            extra = String(key[key.index(after: open)..<key.index(before: key.endIndex)])
        }
        let universe = try await source.candidates(base)
        let id = names.count
        names.append(key)
        bases.append(base)
        extrasOf.append(extra)
        universes.append(universe)
        byPackage.append([])
        assignmentsByPackage.append([])
        ids[key] = id
        return id
    }

    func versionSet(_ package: Int, _ requirement: Requirement) -> VersionSet {
        let universe = universes[package]
        let matching = universe.indices.filter { requirement.specifiers.contains(universe[$0].version, prereleases: allowPrereleases ? true : nil) }
        if matching.isEmpty, !allowPrereleases {
            // As packaging's filter: with no final release matching, matching pre-releases are allowed.
            let pre = universe.indices.filter { requirement.specifiers.contains(universe[$0].version, prereleases: true) }
            return VersionSet(count: universe.count, indices: pre)
        }
        return VersionSet(count: universe.count, indices: matching)
    }

    // MARK: incompatibilities

    @discardableResult
    func add(_ incompatibility: Incompatibility) -> Int {
        let id = incompatibilities.count
        incompatibilities.append(incompatibility)
        for term in incompatibility.terms { byPackage[term.package].append(id) }
        return id
    }

    /// Incompatibilities for `package` depending on `requirements`; returns their ids.
    func addDependencies(_ package: Int, _ version: Int, _ requirements: [Requirement], extras: Set<String>) async throws -> [Int] {
        let owner = Term(package: package, positive: true, set: VersionSet(count: universes[package].count, indices: [version]))
        let ownerText = package == 0 ? "the requirements ask for" : "\(describe(owner)) depends on"
        var wanted: [(String, Requirement)] = []
        for requirement in requirements {
            if let marker = requirement.marker {
                guard marker.evaluate(environment, extras: extras) else { continue }
                // An extra's own package lists only what the extra adds.
                if extrasOf[package] != nil, marker.evaluate(environment, extras: []) { continue }
            } else if extrasOf[package] != nil {
                continue
            }
            let key = requirement.key
            if key == bases[package], requirement.extras.isEmpty { continue }
            wanted.append((key, requirement))
            for extra in requirement.extras { wanted.append(("\(key)[\(extra)]", requirement)) }
        }
        for (key, _) in wanted { await source.prefetch(String(key.split(separator: "[")[0])) }
        var ids: [Int] = []
        if let extra = extrasOf[package] {
            // name[extra] v pins name to v.
            let base = try await self.package(bases[package])
            let index = universes[base].firstIndex { $0.version == universes[package][version].version }
            let set = VersionSet(count: universes[base].count, indices: index.map { [$0] } ?? [])
            ids.append(add(Incompatibility(terms: [owner, Term(package: base, positive: false, set: set)],
                                           cause: .external("\(describe(owner)) depends on \(bases[package]) \(universes[package][version].version) (extra '\(extra)')"))))
        }
        for (key, requirement) in wanted {
            let dependency = try await self.package(key)
            let set = versionSet(dependency, requirement)
            if let best = set.first { await source.prefetchRequirements(bases[dependency], universes[dependency][best]) }
            let shown = requirement.marker == nil ? requirement.text : requirement.text.split(separator: ";")[0].trimmingCharacters(in: .whitespaces)
            var text = "\(ownerText) \(shown)"
            if set.isEmpty { text += ", " + noneMatch(dependency, requirement) }
            let terms = set.isEmpty ? [owner] : [owner, Term(package: dependency, positive: false, set: set)]
            ids.append(add(Incompatibility(terms: package == 0 && set.isEmpty ? [owner] : terms, cause: .external(text))))
        }
        return ids
    }

    /// A constraint rules versions out without requiring the package: {root, package ∉ allowed}.
    func addConstraints(_ constraints: [Requirement]) async throws {
        let root = Term(package: 0, positive: true, set: VersionSet(count: 1, all: true))
        for constraint in constraints where constraint.marker?.evaluate(environment) ?? true {
            let package = try await self.package(constraint.key)
            let allowed = versionSet(package, constraint)
            guard !allowed.isFull else { continue }
            let excluded = Term(package: package, positive: true, set: allowed.complement)
            add(Incompatibility(terms: [root, excluded], cause: .external("the constraints ask for \(constraint.text)")))
        }
    }

    /// Groups the unusable versions of a package by reason, one incompatibility per reason.
    func addUnavailable(_ package: Int) {
        guard unavailableAdded.insert(package).inserted else { return }
        var groups: [String: [Int]] = [:]
        var order: [String] = []
        for (index, candidate) in universes[package].enumerated() {
            guard case let .unavailable(reason) = candidate.origin else { continue }
            if groups[reason] == nil { order.append(reason) }
            groups[reason, default: []].append(index)
        }
        for reason in order {
            let term = Term(package: package, positive: true, set: VersionSet(count: universes[package].count, indices: groups[reason] ?? []))
            add(Incompatibility(terms: [term], cause: .external("\(describe(term)) \(reason)")))
        }
    }

    // MARK: partial solution

    func accumulated(_ package: Int) -> Term? {
        var result: Term?
        for index in assignmentsByPackage[package] {
            result = result.map { $0.intersection(assignments[index].term) } ?? assignments[index].term
        }
        return result
    }

    func assign(_ term: Term, cause: Int?) {
        assignmentsByPackage[term.package].append(assignments.count)
        assignments.append(Assignment(term: term, level: level, cause: cause))
    }

    func decide(_ package: Int, _ version: Int) {
        level += 1
        decided[package] = version
        assign(Term(package: package, positive: true, set: VersionSet(count: universes[package].count, indices: [version])), cause: nil)
    }

    func backtrack(to target: Int) {
        while let last = assignments.last, last.level > target {
            assignments.removeLast()
            let package = last.term.package
            assignmentsByPackage[package].removeLast()
            if last.cause == nil { decided[package] = nil }
        }
        level = target
    }

    enum Relation { case satisfied, contradicted, almost(Term), inconclusive }

    func relation(_ term: Term) -> Relation {
        guard let current = accumulated(term.package) else { return term.isAny ? .satisfied : .inconclusive }
        if current.isSubset(of: term) { return .satisfied }
        if current.isDisjoint(with: term) { return .contradicted }
        return .inconclusive
    }

    func relation(_ incompatibility: Incompatibility) -> Relation {
        var unsatisfied: Term?
        for term in incompatibility.terms {
            switch relation(term) {
            case .satisfied: continue
            case .contradicted: return .contradicted
            default:
                if unsatisfied != nil { return .inconclusive }
                unsatisfied = term
            }
        }
        return unsatisfied.map { .almost($0) } ?? .satisfied
    }

    // MARK: solving

    /// Resolves `requirements` (each with the extras it names), or throws a readable explanation.
    public func resolve(_ requirements: [Requirement], constraints: [Requirement] = []) async throws -> Resolution {
        names = ["<root>"]; bases = ["<root>"]; extrasOf = [nil]; ids = [:]
        universes = [[Candidate(version: PythonVersion(epoch: 0, release: [0], pre: nil, post: nil, dev: nil, local: []), origin: .unavailable(reason: ""))]]
        byPackage = [[]]; assignmentsByPackage = [[]]
        let rootTerm = Term(package: 0, positive: true, set: VersionSet(count: 1, all: true))
        add(Incompatibility(terms: [rootTerm.negated], cause: .root))
        var next = 0
        while true {
            try propagate(next)
            guard let package = choose() else { break }
            next = package
            if package == 0 {
                _ = try await addDependencies(0, 0, requirements, extras: [])
                try await addConstraints(constraints)
                decide(0, 0)
                continue
            }
            guard let allowed = accumulated(package), allowed.positive else { continue }
            guard let pick = allowed.set.first else {
                add(Incompatibility(terms: [allowed], cause: .external("no version of \(describe(allowed)) exists")))
                continue
            }
            if case .unavailable = universes[package][pick].origin, !ignoringUnavailable {
                addUnavailable(package)
                continue
            }
            let candidate = universes[package][pick]
            let requirements: [Requirement]
            do { requirements = try await source.requirements(bases[package], candidate) } catch let unusable as CandidateUnusable {
                let term = Term(package: package, positive: true, set: VersionSet(count: universes[package].count, indices: [pick]))
                add(Incompatibility(terms: [term], cause: .external("\(describe(term)) \(unusable.reason)")))
                continue
            }
            let extras: Set<String> = extrasOf[package].map { [$0] } ?? []
            let ids = try await addDependencies(package, pick, requirements, extras: extras)
            // Decide only if no new incompatibility is already violated by this choice.
            let conflict = ids.contains { id in
                incompatibilities[id].terms.allSatisfy { term in
                    term.package == package ? true : { if case .satisfied = relation(term) { return true } else { return false } }()
                }
            }
            if !conflict { decide(package, pick) }
        }
        var picks: [Resolution.Pick] = []
        var extrasByBase: [String: [String]] = [:]
        let requested = Set(requirements.map(\.key))
        for package in decided.keys where package != 0 {
            if let extra = extrasOf[package] { extrasByBase[bases[package], default: []].append(extra) }
        }
        for (package, version) in decided.sorted(by: { names[$0.key] < names[$1.key] }) where package != 0 && extrasOf[package] == nil {
            let candidate = universes[package][version]
            var name = bases[package]
            if case let .wheel(file) = candidate.origin, let wheel = file.wheel { name = wheel.name }
            if case let .installed(dist) = candidate.origin { name = dist.name }
            picks.append(Resolution.Pick(key: bases[package], name: name, candidate: candidate,
                                         extras: (extrasByBase[bases[package]] ?? []).sorted(), requested: requested.contains(bases[package])))
        }
        return Resolution(picks: picks)
    }

    /// The undecided package to decide next: one with a single allowed version first, then in the order
    /// packages were first seen (as uv does, which keeps results close to pip's).
    func choose() -> Int? {
        var best: (Int, Int)?
        for package in 0..<names.count where decided[package] == nil {
            guard let term = accumulated(package), term.positive else { continue }
            // Package ids are handed out in the order packages are first seen.
            let key = (term.set.cardinality <= 1 ? 0 : 1, package)
            if let current = best, current <= key { continue }
            best = key
        }
        return best?.1
    }

    func propagate(_ start: Int) throws {
        var changed: [Int] = [start]
        var seen = Set<Int>()
        while let package = changed.popLast() {
            seen.insert(package)
            var restart = false
            for id in byPackage[package].reversed() {
                switch relation(incompatibilities[id]) {
                case .satisfied:
                    let learned = try resolveConflict(id)
                    guard case let .almost(term) = relation(incompatibilities[learned]) else {
                        throw PipError.resolution("internal resolver error: a learned incompatibility is not almost satisfied")
                    }
                    assign(term.negated, cause: learned)
                    changed = [term.package]
                    restart = true
                case let .almost(term):
                    assign(term.negated, cause: id)
                    changed.append(term.package)
                default:
                    continue
                }
                if restart { break }
            }
        }
    }

    func isTerminal(_ incompatibility: Incompatibility) -> Bool {
        if incompatibility.terms.isEmpty { return true }
        if incompatibility.terms.count == 1, let term = incompatibility.terms.first, term.package == 0, term.positive { return true }
        return false
    }

    /// The earliest assignment of `term.package`, starting from `start`, after which the accumulated
    /// term satisfies `term`.
    func satisfier(_ term: Term, start: Term? = nil) -> Int {
        var accumulated: Term?
        for index in assignmentsByPackage[term.package] {
            let next = accumulated.map { $0.intersection(assignments[index].term) } ?? assignments[index].term
            accumulated = next
            if (start.map { next.intersection($0) } ?? next).isSubset(of: term) { return index }
        }
        return assignmentsByPackage[term.package].last ?? 0
    }

    func resolveConflict(_ conflict: Int) throws -> Int {
        var current = conflict
        while true {
            let incompatibility = incompatibilities[current]
            if isTerminal(incompatibility) { throw PipError.resolution(explain(current)) }
            var satisfiers: [Int: Int] = [:]
            for term in incompatibility.terms { satisfiers[term.package] = satisfier(term) }
            guard let (package, latest) = satisfiers.max(by: { $0.value < $1.value }),
                  let term = incompatibility.terms.first(where: { $0.package == package }) else {
                throw PipError.resolution(explain(current))
            }
            let found = assignments[latest]
            // The previous satisfier: where the rest of the incompatibility, plus this package's
            // satisfier alone, was already satisfied.
            satisfiers[package] = satisfier(term, start: found.term)
            let previousLevel = max(satisfiers.values.map { assignments[$0].level }.max() ?? 0, 1)
            if found.cause == nil || previousLevel != found.level {
                backtrack(to: previousLevel)
                return current
            }
            guard let cause = found.cause else { throw PipError.resolution(explain(current)) }
            let causeTerms = incompatibilities[cause].terms
            var merged: [Int: Term] = [:]
            for other in incompatibility.terms + causeTerms where other.package != package {
                merged[other.package] = merged[other.package].map { $0.intersection(other) } ?? other
            }
            if let causeTerm = causeTerms.first(where: { $0.package == package }) {
                let union = term.union(causeTerm)
                if !union.isAny { merged[package] = union }
            }
            let terms = merged.keys.sorted().compactMap { merged[$0] }
            current = add(Incompatibility(terms: terms, cause: .derived(current, cause)))
        }
    }
}
