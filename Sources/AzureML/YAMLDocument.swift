import Foundation
import Yams

/// A YAML file read strictly, for AzureML's v2 files: every key is known or reported with its line,
/// and the whole walk is bounded, so an alias bomb (a few lines that expand to billions of nodes) is an
/// error rather than a hang. Yams shares aliased nodes, so only walking them costs.
struct YAMLDocument {
    /// The file, for messages.
    let path: String
    /// The root mapping.
    let root: Node.Mapping
    /// How many nodes a walk may still visit.
    private let budget: Budget

    /// Files larger than this are not AzureML configs.
    static let maxBytes = 4 << 20
    /// Nodes one file may expand to, aliases included.
    static let maxNodes = 100_000

    final class Budget: @unchecked Sendable {
        var remaining = YAMLDocument.maxNodes
    }

    /// Reads `path`, whose root must be a mapping; `what` names the kind of file in errors.
    init(path: String, what: String) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else { throw AzureMLError.missingFile(what, path) }
        guard data.count <= Self.maxBytes else { throw AzureMLError.malformed(path, "larger than \(Self.maxBytes >> 20) MiB") }
        guard let text = String(data: data, encoding: .utf8) else { throw AzureMLError.malformed(path, "not UTF-8 text") }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw AzureMLError.malformed(path, Self.oneLine(error))
        }
        guard case .mapping(let mapping)? = node else {
            throw AzureMLError.malformed(path, "expected a mapping of keys to values at the top")
        }
        root = mapping
        budget = Budget()
    }

    static func oneLine(_ error: YamlError) -> String {
        String(describing: error).split(whereSeparator: \.isNewline).first.map(String.init) ?? "invalid YAML"
    }

    /// The mapping's keys, each checked against `known`; an unknown key is an error naming its line.
    func keys(of mapping: Node.Mapping, known: Set<String>, in context: String) throws -> [String: Node] {
        var result: [String: Node] = [:]
        for (key, value) in mapping {
            try spend()
            guard let name = key.string else { throw error(at: key, "\(context): keys must be strings") }
            guard known.contains(name) else {
                throw error(at: key, "unknown key '\(name)' in \(context) (known: \(known.sorted().joined(separator: ", ")))")
            }
            result[name] = value
        }
        return result
    }

    /// A string value (scalars of any type read as written); nil for `null`.
    func string(_ node: Node?, _ field: String) throws -> String? {
        guard let node else { return nil }
        try spend()
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) { return nil }
            return scalar.string
        default: throw error(at: node, "\(field) must be a single value")
        }
    }

    /// An integer value, such as a port.
    func int(_ node: Node?, _ field: String) throws -> Int? {
        guard let text = try string(node, field) else { return nil }
        guard let value = Int(text) else { throw error(at: node, "\(field) must be a whole number, not '\(text)'") }
        return value
    }

    /// A mapping value; nil for a missing key.
    func mapping(_ node: Node?, _ field: String) throws -> Node.Mapping? {
        guard let node else { return nil }
        try spend()
        if case .scalar(let scalar) = node, scalar.style == .plain, ["", "~", "null"].contains(scalar.string) { return nil }
        guard case .mapping(let mapping) = node else { throw error(at: node, "\(field) must be a mapping") }
        return mapping
    }

    /// A mapping of strings to strings (environment variables, tags); values are read as written.
    func stringMap(_ node: Node?, _ field: String) throws -> [(String, String)] {
        guard let mapping = try mapping(node, field) else { return [] }
        var pairs: [(String, String)] = []
        for (key, value) in mapping {
            try spend()
            guard let name = key.string else { throw error(at: key, "\(field): keys must be strings") }
            pairs.append((name, try string(value, "\(field).\(name)") ?? ""))
        }
        return pairs
    }

    /// Counts one visited node against the budget.
    func spend() throws {
        budget.remaining -= 1
        guard budget.remaining >= 0 else {
            throw AzureMLError.malformed(path, "expands to more than \(Self.maxNodes) YAML nodes (an alias bomb?)")
        }
    }

    /// An error naming the node's line.
    func error(at node: Node?, _ message: String) -> AzureMLError {
        if let line = node?.mark?.line { return .invalid(path, "line \(line): \(message)") }
        return .invalid(path, message)
    }
}
