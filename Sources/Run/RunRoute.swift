import OCI
import Plan

/// Which of an image's routes `kiln run` uses.
extension Route {
    /// The scoring route when the image names none: the AzureML inference server's.
    public static let defaultScoring = Route(port: 5001, path: "/score")

    /// The route to wait for: the readiness label, else the liveness label, else the lowest exposed TCP
    /// port with `/`.
    public static func waitRoute(in config: ContainerConfig?) throws -> Route {
        let labels = config?.labels ?? [:]
        for label in [readinessLabel, livenessLabel] {
            if let value = labels[label] { return try Route(parsing: value, origin: "label \(label)") }
        }
        let ports = (config?.exposedPorts ?? [:]).keys.compactMap { key -> Int? in
            let parts = key.split(separator: "/")
            guard let port = parts.first.flatMap({ Int($0) }), parts.count == 1 || parts[1] == "tcp" else { return nil }
            return port
        }
        guard let port = ports.min() else { throw RunError.noRoute }
        return Route(port: port, path: "/")
    }

    /// Where a request goes: the scoring label, else `5001:/score`.
    public static func scoringRoute(in config: ContainerConfig?) throws -> Route {
        guard let value = config?.labels?[scoringLabel] else { return defaultScoring }
        return try Route(parsing: value, origin: "label \(scoringLabel)")
    }
}
