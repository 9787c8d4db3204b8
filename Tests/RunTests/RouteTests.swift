import Foundation
import OCI
import Plan
@testable import Run
import Testing

@Suite struct RouteTests {
    @Test func parsesPortAndPath() throws {
        #expect(try Route(parsing: "8501:/v1/models/half_plus_two", origin: "--route") == Route(port: 8501, path: "/v1/models/half_plus_two"))
        #expect(try Route(parsing: "5001:/", origin: "--route").url == "http://127.0.0.1:5001/")
        for bad in ["5001", ":/", "0:/", "70000:/", "5001:score", "x:/", "5001:/a b"] {
            #expect(throws: PlanError.self) { try Route(parsing: bad, origin: "--route") }
        }
        let error = try #require(throws: PlanError.self) { try Route(parsing: "5001", origin: "--route") }
        #expect(error.description == "--route '5001' must be PORT:PATH, such as 5001:/score")
    }

    @Test func waitRoutePrefersReadinessThenLivenessThenExposedPort() throws {
        var config = ContainerConfig()
        config.exposedPorts = ["9000/tcp": EmptyObject(), "8080/tcp": EmptyObject(), "53/udp": EmptyObject()]
        #expect(try Route.waitRoute(in: config) == Route(port: 8080, path: "/"))
        config.labels = [Route.livenessLabel: "5001:/"]
        #expect(try Route.waitRoute(in: config) == Route(port: 5001, path: "/"))
        config.labels?[Route.readinessLabel] = "8501:/v1/models/m"
        #expect(try Route.waitRoute(in: config) == Route(port: 8501, path: "/v1/models/m"))
        #expect(throws: RunError.self) { try Route.waitRoute(in: ContainerConfig()) }
        config.labels = [Route.readinessLabel: "nope"]
        let error = try #require(throws: PlanError.self) { try Route.waitRoute(in: config) }
        #expect(error.description.contains("label org.kiln.route.readiness 'nope'"))
    }

    @Test func scoringRouteDefaultsToTheInferenceServers() throws {
        #expect(try Route.scoringRoute(in: nil) == Route(port: 5001, path: "/score"))
        var config = ContainerConfig()
        config.labels = [Route.scoringLabel: "8501:/v1/models/m:predict"]
        #expect(try Route.scoringRoute(in: config) == Route(port: 8501, path: "/v1/models/m:predict"))
    }
}
