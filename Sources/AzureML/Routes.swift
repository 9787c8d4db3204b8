import OCI
import Plan

/// The routes of an image's server (`inference_config` in a v2 environment), recorded as labels that
/// `kiln run` reads: `org.kiln.route.liveness`, `.readiness` and `.scoring`, each `PORT:PATH`.
public struct Routes: Sendable, Equatable {
    public var liveness: Route?
    public var readiness: Route?
    public var scoring: Route?

    public init(liveness: Route? = nil, readiness: Route? = nil, scoring: Route? = nil) {
        self.liveness = liveness
        self.readiness = readiness
        self.scoring = scoring
    }

    /// Records the routes as labels, exposes their ports, and makes the liveness route (else the
    /// readiness route) the health check. `probe` gives the check's timings.
    func apply(to plan: inout BuildPlan, probe: HealthProbe?, healthcheck: [String]?) {
        for (label, route) in [(Route.livenessLabel, liveness), (Route.readinessLabel, readiness), (Route.scoringLabel, scoring)] {
            guard let route else { continue }
            plan.config.labels[label] = route.description
            plan.config.expose("\(route.port)/tcp")
        }
        guard let test = healthcheck else { return }
        var check = Healthcheck(test: test)
        if let probe {
            check.interval = probe.period.map { Int64($0) * 1_000_000_000 }
            check.timeout = probe.timeout.map { Int64($0) * 1_000_000_000 }
            check.startPeriod = probe.initialDelay.map { Int64($0) * 1_000_000_000 }
            check.retries = probe.failureThreshold
        }
        plan.config.healthcheck = check
    }

    /// A health check that asks `route` with whatever HTTP client the image has, for images Kiln did
    /// not put a python in (a custom container brings its own server).
    static func shellCheck(_ route: Route) -> [String] {
        let url = "http://127.0.0.1:\(route.port)\(route.path)"
        return ["CMD-SHELL", "wget -q -O /dev/null '\(url)' || curl -fsS -o /dev/null '\(url)'"]
    }
}

/// A v2 deployment's `liveness_probe` or `readiness_probe`: timings in seconds.
public struct HealthProbe: Sendable, Equatable {
    public var initialDelay: Int?
    public var period: Int?
    public var timeout: Int?
    public var failureThreshold: Int?
    public var successThreshold: Int?
}
