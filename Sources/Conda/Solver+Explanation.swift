extension Pool {
    /// What a minimal conflicting request disagrees about, in words.
    mutating func describeConflict(_ core: [MatchSpec]) throws -> String {
        func versions(_ ids: Set<Int32>, _ pool: Pool) -> String {
            let list = Array(Set(ids.map { pool.records[Int($0)].version.description })).sorted()
            return list.count > 6 ? list.prefix(6).joined(separator: ", ") + ", …" : list.joined(separator: ", ")
        }
        // For each requested spec, the candidates of every name it can reach.
        var reach: [[String: Set<Int32>]] = []
        for spec in core {
            var allowed: [String: Set<Int32>] = [:]
            var queue = Array(try candidates(specId(spec)))
            allowed[spec.name] = Set(queue)
            while let variable = queue.popLast() {
                for dependency in try dependencies(of: Int(variable)) {
                    let name = names[Int(specName[Int(dependency)])]
                    let fresh = try candidates(Int(dependency)).filter { !(allowed[name]?.contains($0) ?? false) }
                    allowed[name, default: []].formUnion(fresh)
                    queue += fresh
                }
            }
            // A constrains entry narrows what the spec allows, without requiring the package.
            for variable in allowed.values.flatMap({ $0 }) {
                for text in records[Int(variable)].constrains {
                    guard let constraint = try? MatchSpec(parsing: text), let current = allowed[constraint.name] else { continue }
                    allowed[constraint.name] = current.filter { constraint.matches(records[Int($0)]) }
                }
            }
            reach.append(allowed)
        }
        if core.count == 1, let spec = core.first {
            for variable in (reach[0][spec.name] ?? []).sorted() {
                for dependency in try dependencies(of: Int(variable)) {
                    guard try candidates(Int(dependency)).isEmpty else { continue }
                    let missing = specs[Int(dependency)]
                    let available = try loadedMembers(Int(specName[Int(dependency)])).map { records[Int($0)].version.description }
                    let have = available.isEmpty ? "nothing provides it" : "only \(missing.name) \(Array(Set(available)).sorted().joined(separator: ", ")) is available"
                    let record = records[Int(variable)]
                    return "\(record.name) \(record.version) (\(record.build)) needs '\(missing.source)', but \(have)" + Solver.hint(missing.name)
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
                let parts = reaching.map { "'\(core[$0].source)' needs \(name) \(versions(reach[$0][name] ?? [], self))" }
                return parts.joined(separator: "; ") + "; no \(name) satisfies all of them"
            }
        }
        return "the requested specs " + core.map { "'\($0.source)'" }.joined(separator: ", ") + " cannot be installed together"
    }
}
