import Foundation
import OCI
import Yams

/// A conda `environment.yml`: name, channels, dependencies (MatchSpecs, and a `pip:` list), variables.
public struct EnvironmentFile: Sendable, Equatable {
    public var name: String?
    public var channels: [String]
    public var dependencies: [MatchSpec]
    public var pip: [String]
    public var variables: [String: String]

    public init(channels: [String], dependencies: [MatchSpec], pip: [String] = [], variables: [String: String] = [:], name: String? = nil) {
        self.channels = channels
        self.dependencies = dependencies
        self.pip = pip
        self.variables = variables
        self.name = name
    }

    public static func load(_ path: String) throws -> EnvironmentFile {
        guard let data = FileManager.default.contents(atPath: path) else { throw CondaError.environmentFile("\(path) does not exist or cannot be read") }
        return try parse(String(decoding: data, as: UTF8.self), what: path)
    }

    public static func parse(_ text: String, what: String) throws -> EnvironmentFile {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw CondaError.environmentFile("\(what) is not valid YAML (\("\(error)".split(separator: "\n").first ?? ""))")
        }
        if let root { try checkShape(root, what: what) }
        let node = root?.any
        guard let top = node as? [String: Any] else { throw CondaError.environmentFile("\(what): expected a mapping with channels and dependencies") }
        let channels = try (top["channels"] as? [Any] ?? []).map { item -> String in
            guard let text = item as? String else { throw CondaError.environmentFile("\(what): channels must be names or URLs") }
            return text
        }
        var dependencies: [MatchSpec] = []
        var pip: [String] = []
        if let listed = top["dependencies"], !(listed is [Any]) {
            throw CondaError.environmentFile("\(what): dependencies must be a list")
        }
        if let listed = top["channels"], !(listed is [Any]) {
            throw CondaError.environmentFile("\(what): channels must be a list")
        }
        for item in top["dependencies"] as? [Any] ?? [] {
            if let text = item as? String {
                do { dependencies.append(try MatchSpec(parsing: text)) } catch { throw CondaError.environmentFile("\(what): \(error)") }
            } else if let section = item as? [String: Any], let lines = section["pip"] as? [Any] {
                pip += lines.compactMap { $0 as? String }
            } else if let number = item as? NSNumber {
                throw CondaError.environmentFile("\(what): dependency \(number) is not a package spec")
            } else {
                throw CondaError.environmentFile("\(what): a dependency must be a spec string or a {pip: [...]} list")
            }
        }
        guard !dependencies.isEmpty || !pip.isEmpty else { throw CondaError.environmentFile("\(what) lists no dependencies") }
        var variables: [String: String] = [:]
        for (key, value) in top["variables"] as? [String: Any] ?? [:] { variables[key] = "\(value)" }
        return EnvironmentFile(channels: channels, dependencies: dependencies, pip: pip, variables: variables, name: top["name"] as? String)
    }

    /// Nodes an environment file may expand to, aliases included (an alias bomb is an error, not a hang).
    static let maxNodes = 100_000

    /// Refuses what Yams cannot turn into values without trapping (a mapping key that is a list or a
    /// mapping, `? [a]: b`), walking the expanded tree under a node budget so aliases stay bounded.
    static func checkShape(_ root: Node, what: String) throws {
        var pending = [root]
        var visited = 0
        while let node = pending.popLast() {
            visited += 1
            guard visited <= maxNodes else { throw CondaError.environmentFile("\(what): more than \(maxNodes) YAML nodes (aliases?)") }
            switch node {
            case .mapping(let mapping):
                for (key, value) in mapping {
                    guard case .scalar = key else { throw CondaError.environmentFile("\(what): a mapping key must be a plain value") }
                    pending.append(value)
                }
            case .sequence(let sequence): pending.append(contentsOf: sequence)
            case .scalar, .alias: break
            }
        }
    }

    /// Kiln's own deterministic hash of the definition, for a default prefix such as AzureML's
    /// `/azureml-envs/azureml_<hash>`: the first 32 hex digits of SHA-256 over the canonical JSON of
    /// channels, dependency specs (as written, sorted), pip lines (as written) and variables.
    public var definitionHash: String {
        struct Definition: Encodable { var channels: [String]; var dependencies: [String]; var pip: [String]; var variables: [String: String] }
        let definition = Definition(channels: channels, dependencies: dependencies.map(\.source).sorted(), pip: pip, variables: variables)
        let data = (try? CanonicalJSON.encode(definition)) ?? Data()
        return String(Digest.sha256(of: data).encoded.prefix(32))
    }
}
