import ArgumentParser
import AzureML
import Foundation
import Kiln

/// `kiln build`: flags into a plan, one call to `Kiln.build`, the result printed.
struct BuildCommand: AsyncParsableCommand, ReportsProgress {
    static let configuration = CommandConfiguration(
        commandName: "build", abstract: "Build an image from a base, a model, code and files.",
        discussion: """
        With --json, stdout holds one JSON object: output, manifestDigest, configDigest, and layers (digest, \
        diffID, size, mediaType).

        EXAMPLES:
          kiln build inferenceconfig.json --base oci:base-layout:latest \\
            --model churn:3=outputs/model --output oci:out/churn:1
          kiln build deployment.yml --output myregistry.azurecr.io/ml/churn --tag auto
          kiln build --base scratch --add app:/app --cmd /app/serve \\
            --output docker-archive:app.tar:ml/app:1 --json
        """)
    @OptionGroup var consoleOptions: ConsoleOptions

    @Option(help: "Base image: REGISTRY/REPO[:TAG|@DIGEST], oci:DIR[:TAG], docker-archive:FILE or scratch.")
    var base: String?
    @Argument(help: "An AzureML file: inferenceconfig.json (v1), a deployment or environment YAML (v2), or a folder holding one.")
    var input: String?
    @Option(name: .customLong("inference-config"), help: "An AzureML v1 inferenceconfig.json.")
    var inferenceConfig: String?
    @Option(help: "A model, NAME:VERSION=PATH; it goes to /var/azureml-app/azureml-models/NAME/VERSION/.")
    var model: [String] = []
    @Option(help: "Add host files, SRC:DEST (DEST absolute in the image). Repeatable.")
    var add: [String] = []
    @Option(help: "Set an environment variable, K=V. Repeatable.")
    var env: [String] = []
    @Option(help: "Entrypoint: a JSON array, or a command line split on spaces.")
    var entrypoint: String?
    @Option(help: "Cmd: a JSON array, or a command line split on spaces.")
    var cmd: String?
    @Option(help: "Working directory.")
    var workdir: String?
    @Option(help: "User to run as.")
    var user: String?
    @Option(help: "Expose a port, PORT[/tcp|udp|sctp]. Repeatable.")
    var expose: [String] = []
    @Option(help: "Set a label, K=V. Repeatable.")
    var label: [String] = []
    @Option(help: "Target platform, os/arch[/variant]; default: the base image's.")
    var platform: String?
    @Option(name: .customLong("conda-file"), help: "A conda environment.yml to install into the image (solved natively).")
    var condaFile: String?
    @Option(help: "A pip requirements file, installed into the conda environment, or without one for the base image's python. Repeatable.")
    var requirements: [String] = []
    @Option(name: .customLong("index-url"), help: "The package index for pip requirements, over the files' --index-url.")
    var indexURL: String?
    @Option(name: .customLong("extra-index-url"), help: "Another package index for pip requirements. Repeatable.")
    var extraIndexURL: [String] = []
    @OptionGroup var builds: SourceBuildOptions
    @Flag(name: .customLong("no-server"), help: "Do not add AzureML's inference server to a scoring image (you start your own).")
    var noServer = false
    @Option(help: "Write the resolved conda environment to FILE (conda-lock v1) and FILE.explicit.txt (@EXPLICIT).")
    var lock: String?
    @Option(help: "Install exactly this conda lock (@EXPLICIT or conda-lock v1), without solving.")
    var locked: String?
    @Option(name: .customLong("env-prefix"), help: "Where the conda environment lives in the image (default /azureml-envs/azureml_<hash of the environment>).")
    var envPrefix: String?
    @Option(help: "A conda channel (name or URL), before the environment file's channels. Repeatable.")
    var channel: [String] = []
    @Option(name: .customLong("channel-alias"), help: "Where conda channel names point (default https://conda.anaconda.org).")
    var channelAlias: String?
    @Option(name: .customLong("virtual-package"), help: "Override a conda virtual package, __NAME=VERSION[=BUILD] (default: read from the base image). Repeatable.")
    var virtualPackage: [String] = []
    @Option(help: "Layer compression: gzip, zstd or none.")
    var compression: String = "gzip"
    @Option(help: "Output: oci:DIR[:TAG], docker-archive:FILE[:NAME:TAG], or REGISTRY/REPO[:TAG] to push.")
    var output: String
    @Option(help: "With a registry output: tag to push (repeatable; `auto` = the next integer tag); default: the output's tag.")
    var tag: [String] = []
    @Flag(help: "Print the manifest digest, config digest and layers as JSON.")
    var json = false
    @Flag(name: .customLong("no-cache"), help: "Write every layer anew, even those whose inputs' paths, sizes, times and inodes are unchanged.")
    var noCache = false
    @OptionGroup var registryOptions: RegistryOptions

    func run() async throws {
        let destination = try FlagError.reading("--output") { try ImageLocation(parsing: output) }
        try RegistryOptions.validate(tags: tag)
        let (plan, frontEnd) = try makePlan()
        for note in frontEnd?.notes ?? [] { Console.line("kiln: note: \(note)") }
        var options = try registryOptions.options()
        options.baseCredentials = Self.baseCredentials(frontEnd?.baseCredentials)
        options.layerCache = !noCache
        if case let .registry(reference) = destination {
            options.tags = try await RegistryOptions.resolve(tags: tag, for: reference, options: options)
        }
        let result = try await Kiln.build(plan, to: destination, options: options)
        if let push = result.push, !json, case let .registry(reference) = destination {
            print("pushed \(push.pushedName(reference, digest: result.manifestDigest)) \(push.summary)")
        }
        try BuildReport(result, output: output).print(json: json)
    }
}
