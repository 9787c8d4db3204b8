import ArgumentParser
import Foundation
import Kiln

/// `kiln run IMAGE`: a local smoke run under runc, no Docker. Exit 0 when the server answered.
struct RunCommand: AsyncParsableCommand, ReportsProgress {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run an image under runc with the host network and check that its server answers over HTTP.",
        discussion: """
        Waits for GET on the image's org.kiln.route.readiness (else .liveness) label's PORT:PATH, else its first \
        exposed port at /, on 127.0.0.1; any HTTP status counts. With --request, POSTs the file to the \
        org.kiln.route.scoring route (default 5001:/score) and prints the answer. The container is then stopped \
        and its files removed. Needs runc; as root the container runs as root, otherwise rootless.

        With --json, stdout holds one JSON object: manifestDigest, ready (method, url, status, seconds) and, \
        with --request, scoring (the same, and body). A scoring answer of 400 or more still prints it, then \
        fails.

        EXAMPLES:
          kiln run oci:out/churn:1 --request sample.json
          kiln run myregistry.azurecr.io/ml/churn:3 --route 5001:/ --timeout 300
          kiln run docker-archive:churn.tar --json
        """)
    @OptionGroup var consoleOptions: ConsoleOptions

    @Argument(help: "oci:DIR[:TAG], docker-archive:FILE or REGISTRY/REPO[:TAG|@DIGEST]")
    var image: String
    @Option(help: ArgumentHelp("The route to wait for (default: from the image's labels).", valueName: "PORT:PATH"))
    var route: String?
    @Option(name: .customLong("scoring-route"), help: ArgumentHelp("Where --request is POSTed (default: from the image's labels, else 5001:/score).", valueName: "PORT:PATH"))
    var scoringRoute: String?
    @Option(help: "Seconds to wait for the route to answer.")
    var timeout: Double = 120
    @Option(help: ArgumentHelp("POST this file as application/json to the scoring route and print the answer's body.", valueName: "FILE"))
    var request: String?
    @Option(help: "Platform to pick from an index, os/arch[/variant] (default: this machine's).")
    var platform: String?
    @Flag(help: "Print one JSON object with the status codes (and the answer) instead.")
    var json = false
    @OptionGroup var registryOptions: RegistryOptions

    func run() async throws {
        let location = try ImageLocation(parsing: image)
        guard timeout > 0, timeout.isFinite else { throw PlanError.invalid("--timeout must be a positive number of seconds") }
        let registry = try registryOptions.options()
        var options = RunOptions()
        options.registry = registry.registry
        options.log = registry.log
        options.timeout = timeout
        options.platform = try platform.map { value in try FlagError.reading("--platform") { try Platform(parsing: value) } }
        options.route = try route.map { try Route(parsing: $0, origin: "--route") }
        options.scoringRoute = try scoringRoute.map { try Route(parsing: $0, origin: "--scoring-route") }
        if let request {
            guard let body = FileManager.default.contents(atPath: request) else {
                throw PlanError.invalid("--request '\(request)': no such readable file")
            }
            options.request = body
        }
        let result = try await Kiln.run(location, options: options)
        if json {
            print(try prettyJSON(result))
        } else if let scoring = result.scoring {
            print(scoring.body ?? "")
        } else {
            print("GET \(result.ready.url) answered \(result.ready.status)")
        }
        if let scoring = result.scoring, scoring.status >= 400 {
            throw RunError.request(url: scoring.url, detail: "the server answered \(scoring.status)")
        }
    }
}
