import Foundation
import OCI
@testable import Run
import Testing

@Suite struct RouteTests {
    @Test func parsesPortAndPath() throws {
        #expect(try RunRoute(parsing: "8501:/v1/models/half_plus_two", origin: "--route") == RunRoute(port: 8501, path: "/v1/models/half_plus_two"))
        #expect(try RunRoute(parsing: "5001:/", origin: "--route").url == "http://127.0.0.1:5001/")
        for bad in ["5001", ":/", "0:/", "70000:/", "5001:score", "x:/", "5001:/a b"] {
            #expect(throws: RunError.self) { try RunRoute(parsing: bad, origin: "--route") }
        }
        let error = try #require(throws: RunError.self) { try RunRoute(parsing: "5001", origin: "--route") }
        #expect(error.description == "--route '5001' must be PORT:PATH, such as 5001:/score")
    }

    @Test func waitRoutePrefersReadinessThenLivenessThenExposedPort() throws {
        var config = ContainerConfig()
        config.exposedPorts = ["9000/tcp": EmptyObject(), "8080/tcp": EmptyObject(), "53/udp": EmptyObject()]
        #expect(try RunRoute.waitRoute(in: config) == RunRoute(port: 8080, path: "/"))
        config.labels = [RunRoute.livenessLabel: "5001:/"]
        #expect(try RunRoute.waitRoute(in: config) == RunRoute(port: 5001, path: "/"))
        config.labels?[RunRoute.readinessLabel] = "8501:/v1/models/m"
        #expect(try RunRoute.waitRoute(in: config) == RunRoute(port: 8501, path: "/v1/models/m"))
        #expect(throws: RunError.self) { try RunRoute.waitRoute(in: ContainerConfig()) }
        config.labels = [RunRoute.readinessLabel: "nope"]
        let error = try #require(throws: RunError.self) { try RunRoute.waitRoute(in: config) }
        #expect(error.description.contains("label org.kiln.route.readiness 'nope'"))
    }

    @Test func scoringRouteDefaultsToTheInferenceServers() throws {
        #expect(try RunRoute.scoringRoute(in: nil) == RunRoute(port: 5001, path: "/score"))
        var config = ContainerConfig()
        config.labels = [RunRoute.scoringLabel: "8501:/v1/models/m:predict"]
        #expect(try RunRoute.scoringRoute(in: config) == RunRoute(port: 8501, path: "/v1/models/m:predict"))
    }
}
