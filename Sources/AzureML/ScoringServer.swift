import Plan

/// What makes a scoring image serve: AzureML's inference server (PyPI `azureml-inference-server-http`)
/// started on the entry script, as AzureML starts it.
///
/// The server's own rules (package 1.5.1): `azmlinfsrv` exits unless `--entry_script` (or
/// `--config_file`) is given; it listens on 5001 and answers `GET /` with "Healthy" and `POST /score`
/// from the script's `run()`; it finds the app through `AML_APP_ROOT` and `AZUREML_ENTRY_SCRIPT`.
public enum ScoringServer {
    /// The distribution that provides `azmlinfsrv`.
    public static let package = "azureml-inference-server-http"
    /// The server's port.
    public static let port = 5001
    /// The routes it serves.
    public static let routes = Routes(liveness: Route(port: port, path: "/"), readiness: Route(port: port, path: "/"),
                                      scoring: Route(port: port, path: "/score"))

    /// Makes `plan` start the server on `code`'s entry script. The server is added to the pip
    /// requirements (it is skipped there when the environment already lists it); with no environment,
    /// it goes into the base image's own python (`base`, or the python found in the image).
    static func apply(_ code: ScoringCode, to plan: inout BuildPlan, base: BaseImage?, probe: HealthProbe?) {
        if plan.environment != nil || base?.inferenceServer != true {
            var environment = plan.environment ?? EnvironmentPlan()
            if plan.environment == nil { environment.basePython = base?.basePython }
            environment.addedRequirements.append(AddedRequirement(package, reason: "a scoring image runs AzureML's inference server (azmlinfsrv)"))
            plan.environment = environment
        }
        plan.config.entrypoint = ["azmlinfsrv", "--entry_script", code.entryScriptInImage, "--port", String(port)]
        let check = ["CMD", "python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:\(port)/', timeout=10)"]
        routes.apply(to: &plan, probe: probe, healthcheck: check)
    }
}
