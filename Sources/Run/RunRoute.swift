import OCI

/// Where an image's server answers: a port on 127.0.0.1 and a path, written `PORT:PATH` (`5001:/score`).
/// Kiln's build records them as labels, so `kiln run` knows what to wait for and where to POST.
public struct RunRoute: Sendable, Equatable, Encodable, CustomStringConvertible {
    /// The TCP port on the loopback interface.
    public var port: Int
    /// The path, starting with `/`; may carry a query.
    public var path: String

    /// The readiness route label: the route to wait for.
    public static let readinessLabel = "org.kiln.route.readiness"
    /// The liveness route label: waited for when there is no readiness label.
    public static let livenessLabel = "org.kiln.route.liveness"
    /// The scoring route label: where a request is POSTed.
    public static let scoringLabel = "org.kiln.route.scoring"
    /// The scoring route when the image names none: the AzureML inference server's.
    public static let defaultScoring = RunRoute(port: 5001, path: "/score")

    /// A route to `path` on `port`.
    public init(port: Int, path: String) {
        self.port = port
        self.path = path
    }

    /// Parses `PORT:PATH`; `origin` (a label or option name) is named in the error.
    public init(parsing text: String, origin: String) throws {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let port = Int(parts[0]), (1...65535).contains(port), parts[1].hasPrefix("/"),
              !parts[1].contains(where: { $0.isWhitespace }) else {
            throw RunError.invalidRoute(text, origin: origin)
        }
        self.init(port: port, path: String(parts[1]))
    }

    /// `http://127.0.0.1:PORT/PATH`.
    public var url: String { "http://127.0.0.1:\(port)\(path)" }

    /// `PORT:PATH`.
    public var description: String { "\(port):\(path)" }

    /// The route to wait for: the readiness label, else the liveness label, else the lowest exposed TCP
    /// port with `/`.
    public static func waitRoute(in config: ContainerConfig?) throws -> RunRoute {
        let labels = config?.labels ?? [:]
        for label in [readinessLabel, livenessLabel] {
            if let value = labels[label] { return try RunRoute(parsing: value, origin: "label \(label)") }
        }
        let ports = (config?.exposedPorts ?? [:]).keys.compactMap { key -> Int? in
            let parts = key.split(separator: "/")
            guard let port = parts.first.flatMap({ Int($0) }), parts.count == 1 || parts[1] == "tcp" else { return nil }
            return port
        }
        guard let port = ports.min() else { throw RunError.noRoute }
        return RunRoute(port: port, path: "/")
    }

    /// Where a request goes: the scoring label, else `5001:/score`.
    public static func scoringRoute(in config: ContainerConfig?) throws -> RunRoute {
        guard let value = config?.labels?[scoringLabel] else { return defaultScoring }
        return try RunRoute(parsing: value, origin: "label \(scoringLabel)")
    }
}
