/// How the resolver words what it found: versions as ranges, facts and conclusions as sentences.
extension Resolver {
    func label(_ package: Int) -> String {
        guard package != 0 else { return "the requirements" }
        if case let .installed(dist) = universes[package].first?.origin, universes[package].count == 1 {
            return "\(dist.name)"
        }
        return names[package]
    }

    func describe(_ term: Term) -> String {
        let set = term.set
        let universe = universes[term.package]
        if term.package == 0 { return "the requirements" }
        if set.isFull, universe.count != 1 { return label(term.package) }
        let versions = set.indices
        if versions.count == 1 { return "\(label(term.package)) \(universe[versions[0]].version)" }
        // Runs of neighbouring versions read as ranges.
        var runs: [String] = []
        var start = versions[0], previous = versions[0]
        func close() {
            let high = universe[start].version, low = universe[previous].version
            if start == previous { runs.append("==\(high)") } else if start == 0 { runs.append(">=\(low)") }
            else if previous == universe.count - 1 { runs.append("<=\(high)") } else { runs.append(">=\(low),<=\(high)") }
        }
        for index in versions.dropFirst() {
            if index == previous + 1 { previous = index; continue }
            close()
            start = index; previous = index
        }
        close()
        return "\(label(term.package)) \(runs.joined(separator: " or "))"
    }

    func noneMatch(_ package: Int, _ requirement: Requirement) -> String {
        let universe = universes[package]
        if universe.isEmpty { return "but no index or --find-links source has \(bases[package])" }
        if universe.count == 1, case let .installed(dist) = universe[0].origin {
            return "but conda installed \(dist.name) \(dist.version), which kiln keeps (move \(bases[package]) to the conda dependencies with the version you need)"
        }
        let shown = universe.prefix(6).map { $0.version.description }.joined(separator: ", ")
        return "but no version of \(bases[package]) matches (there are \(shown)\(universe.count > 6 ? ", …" : ""))"
    }

    /// One line: the external facts in the order the derivation used them, each conclusion after a "So".
    func explain(_ id: Int) -> String {
        var sentences: [String] = []
        var said = Set<Int>()
        func sentence(_ text: String) -> String { (text.hasPrefix("the ") ? "The" + text.dropFirst(3) : text) + "." }
        func conclusion(_ id: Int) -> String {
            let incompatibility = incompatibilities[id]
            if case let .external(text) = incompatibility.cause { return text }
            if case .root = incompatibility.cause { return "the requirements must be met" }
            return phrase(incompatibility.terms)
        }
        func walk(_ id: Int) {
            guard said.insert(id).inserted else { return }
            guard case let .derived(a, b) = incompatibilities[id].cause else {
                if case .external = incompatibilities[id].cause { sentences.append(sentence(conclusion(id))) }
                return
            }
            walk(a)
            walk(b)
            sentences.append("So " + conclusion(id) + ".")
        }
        walk(id)
        if sentences.isEmpty { sentences.append(sentence(conclusion(id))) }
        return "the pip requirements cannot be resolved: " + sentences.joined(separator: " ")
    }

    func phrase(_ terms: [Term]) -> String {
        let positives = terms.filter(\.positive), negatives = terms.filter { !$0.positive }
        if terms.isEmpty || (terms.count == 1 && terms[0].package == 0) { return "the requirements cannot be met" }
        if positives.count == 1, negatives.count == 1 {
            if positives[0].package == 0 { return "the requirements ask for \(describe(negatives[0]))" }
            return "\(describe(positives[0])) depends on \(describe(negatives[0]))"
        }
        if positives.count == 1, negatives.isEmpty { return "\(describe(positives[0])) cannot be used" }
        if positives.isEmpty { return "one of \(negatives.map(describe).joined(separator: ", ")) is needed" }
        let others = positives.filter { $0.package != 0 }
        let head = others.map(describe).joined(separator: " and ")
        if !negatives.isEmpty { return "\(head) together need \(negatives.map(describe).joined(separator: " or "))" }
        return positives.contains { $0.package == 0 } ? "\(head) cannot be used with the requirements" : "\(head) are incompatible"
    }
}
