import ArgumentParser
import Kiln

/// Whether and how long sdists are built: `kiln build`, `kiln env install`, `kiln pip`.
struct SourceBuildOptions: ParsableArguments {
    @Flag(name: .customLong("no-build"), help: "Never build a source distribution (sdist); use wheels only, as uv's --no-build.")
    var noBuild = false

    @Option(name: .customLong("build-timeout"), help: "Seconds each sdist build step may take before kiln stops it.")
    var buildTimeout = Self.defaultTimeout

    /// A parsed value only; an instance made here would trap on reading its options.
    static let defaultTimeout = 1800

    func validated() throws -> SourceBuildOptions {
        guard buildTimeout > 0 else { throw PlanError.invalid("--build-timeout \(buildTimeout): give a number of seconds above 0") }
        if noBuild, buildTimeout != Self.defaultTimeout { throw PlanError.invalid("--build-timeout has no effect with --no-build; give one or the other") }
        return self
    }

    func apply(to plan: inout EnvironmentPlan) throws {
        _ = try validated()
        plan.buildsSdists = !noBuild
        plan.buildTimeout = buildTimeout
    }
}
