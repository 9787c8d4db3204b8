import ArgumentParser
import AzureML
import Conda
import Foundation
import HTTP
import Kiln

/// `kiln env`: environments on their own, for debugging and for comparing with other tools.
struct EnvCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "env", abstract: "Solve or install a conda environment (and its pip: section).",
                                                    subcommands: [EnvSolveCommand.self, EnvInstallCommand.self])
}

/// Flags shared by `env solve` and `env install`.
struct EnvironmentOptions: ParsableArguments {
    @Option(help: "A channel (name or URL); repeatable; these come before the file's channels.")
    var channel: [String] = []
    @Option(name: .customLong("channel-alias"), help: "Where channel names point (default https://conda.anaconda.org).")
    var channelAlias = ChannelURL.defaultAlias
    @Option(help: "Target conda platform (subdir): linux-64, linux-aarch64.")
    var platform = "linux-64"
    @Option(name: .customLong("virtual-package"), help: "Set a virtual package, __NAME=VERSION[=BUILD] (e.g. __cuda=12.2, __glibc=2.31); __NAME= removes one. Repeatable.")
    var virtualPackage: [String] = []
    @Option(help: "The target's glibc version (__glibc); default 2.35, as Ubuntu 22.04 has. `kiln build` reads it from the base image.")
    var glibc = "2.35"
    @Option(name: .customLong("ca-file"), help: "Also trust the CA certificates in this PEM file (default: $SSL_CERT_FILE).")
    var caFile: String?

    func plan(_ file: String) -> EnvironmentPlan {
        var plan = AzureMLLayout.environment()
        plan.environmentFile = file
        plan.channels = channel
        plan.channelAlias = channelAlias
        plan.virtualPackages = virtualPackage
        return plan
    }

    /// `--platform linux-64` as an image platform.
    func imagePlatform() throws -> Platform {
        let architectures = ["linux-64": "amd64", "linux-aarch64": "arm64", "linux-ppc64le": "ppc64le", "linux-s390x": "s390x"]
        guard let architecture = architectures[platform] else {
            throw PlanError.invalid("--platform '\(platform)': expected one of \(architectures.keys.sorted().joined(separator: ", "))")
        }
        return Platform(os: "linux", architecture: architecture)
    }

    func options() throws -> BuildOptions {
        var options = BuildOptions()
        options.registry.caFile = try KilnCLI.caFile(flag: caFile)
        options.log = { line in Console.line("kiln: \(line)") }
        return options
    }
}

struct EnvSolveCommand: AsyncParsableCommand, ReportsProgress {
    static let configuration = CommandConfiguration(
        commandName: "solve", abstract: "Solve an environment.yml and print the records.",
        discussion: """
        With --json, stdout holds one JSON array of records: name, version, build, build_number, subdir, url, sha256.

        EXAMPLES:
          kiln env solve environment.yml
          kiln env solve environment.yml --virtual-package __cuda=12.2 --glibc 2.31
          kiln env solve environment.yml --channel conda-forge \\
            --platform linux-aarch64 --json
        """)
    @OptionGroup var consoleOptions: ConsoleOptions

    @Argument(help: "environment.yml")
    var file: String
    @OptionGroup var options: EnvironmentOptions
    @Flag(help: "Print JSON records instead of `name version build` lines.")
    var json = false

    func run() async throws {
        let records = try await Kiln.solveEnvironment(options.plan(file), platform: options.imagePlatform(), glibc: options.glibc,
                                                      options: options.options())
        if json {
            struct Line: Encodable { var name: String; var version: String; var build: String; var build_number: Int; var subdir: String; var url: String; var sha256: String? }
            print(try prettyJSON(records.map { Line(name: $0.name, version: $0.version.description, build: $0.build, build_number: $0.buildNumber,
                                                    subdir: $0.subdir, url: Redaction.text($0.url), sha256: $0.sha256) }))
        } else {
            for record in records { print("\(record.name) \(record.version) \(record.build)") }
        }
    }
}

struct EnvInstallCommand: AsyncParsableCommand, ReportsProgress {
    static let configuration = CommandConfiguration(
        commandName: "install", abstract: "Install an environment.yml, pip: section included, into a new directory.",
        discussion: """
        With --json, stdout holds one JSON object: directory, prefix, packages (name, version, build; in install \
        order) and distributions (name, version; the pip: section's).

        EXAMPLES:
          kiln env install environment.yml --prefix out/env
          kiln env install environment.yml --prefix out/env --target-prefix /opt/env
          kiln env install environment.yml --prefix out/env --json
        """)
    @OptionGroup var consoleOptions: ConsoleOptions

    @Argument(help: "environment.yml")
    var file: String
    @Option(help: "The directory to install into; it must not exist yet.")
    var prefix: String
    @Option(name: .customLong("target-prefix"), help: "The path written into files, if the environment will live elsewhere (default: --prefix).")
    var targetPrefix: String?
    @OptionGroup var options: EnvironmentOptions
    @OptionGroup var builds: SourceBuildOptions
    @Flag(help: "Print one JSON object (directory, prefix, packages, distributions) instead.")
    var json = false

    func run() async throws {
        var plan = options.plan(file)
        plan.prefix = targetPrefix
        try builds.apply(to: &plan)
        let result = try await Kiln.installEnvironment(plan, into: prefix, platform: options.imagePlatform(), glibc: options.glibc,
                                                       options: options.options())
        if json {
            let report = EnvironmentReport(
                directory: result.root.path, prefix: result.prefix,
                packages: result.records.map { .init(name: $0.name, version: $0.version.description, build: $0.build) },
                distributions: result.wheels.map { DistributionReport(name: $0.name, version: $0.version.description) })
            print(try prettyJSON(report))
            return
        }
        let pip = result.wheels.isEmpty ? "" : " and \(result.wheels.count) pip distributions"
        print("installed \(result.records.count) packages\(pip) into \(result.root.path)")
    }
}

/// What `kiln env install --json` prints: the same facts as its line, with the names behind the counts.
struct EnvironmentReport: Encodable {
    struct Package: Encodable { var name: String; var version: String; var build: String }
    /// Where the files are.
    var directory: String
    /// The path written into them (--target-prefix, else the directory).
    var prefix: String
    var packages: [Package]
    var distributions: [DistributionReport]
}
