import Foundation

/// Where the solver gets candidates: every record of one name, already filtered by channel priority.
public protocol RecordSource: Sendable {
    func records(named name: String) throws -> [PackageRecord]
    /// The versions of `records(named:)`, in its order, each with whether the record has track_features.
    func versions(named name: String) throws -> [(version: CondaVersion, tracked: Bool)]
    /// A record of `records(named:)` with every field, for the solution: a source may give the solver
    /// records with only the fields a solve uses.
    func complete(_ record: PackageRecord) throws -> PackageRecord
}

extension RecordSource {
    public func versions(named name: String) throws -> [(version: CondaVersion, tracked: Bool)] {
        try records(named: name).map { ($0.version, !$0.trackFeatures.isEmpty) }
    }

    public func complete(_ record: PackageRecord) throws -> PackageRecord { record }
}

/// A complete conda solver: CDCL over one boolean per candidate record (as resolvo and libsolv encode
/// it), with conda's preferences driving the decisions. It is lazy as resolvo is: a name's records are
/// loaded only when the search reaches the name, and a record's requires and constrains clauses are
/// added only when the record is first set true. It finds a solution whenever one exists; when none
/// does, it names the smallest set of requested specs that conflict and the package they disagree on.
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
        var problem = try Problem(specs: specs, pool: pool())
        if let missing = problem.missingRoot {
            throw CondaError.unsatisfiable("nothing in the channels provides '\(missing.source)'" + Self.hint(missing.name))
        }
        if let solution = try problem.run() {
            return try solution.filter { !$0.isVirtual }.map { try source.complete($0) }.sorted { $0.name < $1.name }
        }
        throw CondaError.unsatisfiable(try explain(specs))
    }

    static func hint(_ name: String) -> String {
        name.hasPrefix("__") ? " (a virtual package: it comes from the base image, or set \(name)=VERSION as a virtual package)" : ""
    }

    func pool() -> Pool { Pool(source: source, virtual: virtualPackages, addPip: addPipToPython) }

    func satisfiable(_ specs: [MatchSpec]) throws -> Bool {
        var problem = try Problem(specs: specs, pool: pool())
        return try problem.missingRoot == nil && problem.run() != nil
    }

    /// Shrinks the request to a minimal conflicting set, then says which package its members disagree on.
    func explain(_ specs: [MatchSpec]) throws -> String {
        var core = specs
        for spec in specs where core.count > 1 {
            let trial = core.filter { $0 != spec }
            if try !satisfiable(trial) { core = trial }
        }
        var pool = pool()
        return try pool.describeConflict(core)
    }
}
