import Conda
import Environments
import Foundation
import HTTP
import OCI
import Plan
import Testing
import TestSupport

/// The environment stage on the fixture channel: installed for a prefix, split into layers, variables set.
@Suite struct EnvironmentStageTests {
    @Test func installsAndSplitsIntoLayers() async throws {
        let channels = try condaFixtureChannels()
        let work = try TemporaryDirectory("environment")
        try work.write("environment.yml", "channels:\n  - file://\(channels)/main\ndependencies:\n  - python 3.11.*\n  - hello\n")
        var plan = EnvironmentPlan()
        plan.environmentFile = work.file("environment.yml")
        plan.prefixTemplate = "/envs/e_{hash}"
        plan.prefixVariable = "ENV_PATH"
        let cache = try TemporaryDirectory("cache")
        let result = try await EnvironmentStage.run(plan, platform: Platform(os: "linux", architecture: "amd64"), glibc: "2.35",
                                                    baseEnv: ["PATH=/usr/bin"], root: work.url.appendingPathComponent("root"), epoch: 0,
                                                    fetcher: Fetcher(cacheDirectory: cache.url, http: HTTPClients.shared()), log: { _ in })
        #expect(result.prefix.hasPrefix("/envs/e_") && result.prefix.count == "/envs/e_".count + 32)
        #expect(result.records.contains { $0.name == "hello" } && result.wheels.isEmpty)
        #expect(result.env.contains(EnvVar(key: "PATH", value: "\(result.prefix)/bin:/usr/bin")))
        #expect(result.env.contains(EnvVar(key: "ENV_PATH", value: result.prefix)))
        let specs = try EnvironmentLayers.specs(for: result, work: work.url)
        #expect(specs.allSatisfy { $0.kind == .environment && $0.inputs.allSatisfy { $0.destination == result.prefix } })
        #expect(specs.last?.description.hasPrefix("conda environment \(result.prefix)") == true)
        #expect(FileManager.default.fileExists(atPath: work.file("root/conda-meta/history")))
    }

    @Test func aPlanWithNothingToInstallIsRefused() async throws {
        let cache = try TemporaryDirectory("cache")
        await #expect(throws: PlanError.self) {
            try await EnvironmentStage.solve(EnvironmentPlan(), platform: Platform(os: "linux", architecture: "amd64"), glibc: nil,
                                             fetcher: Fetcher(cacheDirectory: cache.url, http: HTTPClients.shared()))
        }
    }
}
