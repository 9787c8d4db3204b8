import ArgumentParser
import AsyncHTTPClient
import Conda
import Foundation
import Registry

/// `kiln env`: conda environments on their own, for debugging and for comparing with other tools.
struct EnvCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "env", abstract: "Solve or install a conda environment.",
                                                    subcommands: [EnvSolveCommand.self, EnvInstallCommand.self])
}

/// Flags shared by `env solve` and `env install`.
struct CondaOptions: ParsableArguments {
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

    func request(_ file: EnvironmentFile) throws -> CondaRequest {
        let names = channel + file.channels
        let channels = (names.isEmpty ? ["defaults"] : names).flatMap { ChannelURL.resolve($0, alias: channelAlias) }
        var unique: [String] = []
        for url in channels where !unique.contains(url) { unique.append(url) }
        let virtual = try CondaRequest.virtualPackages(subdir: platform, glibc: glibc, overrides: virtualPackage)
        return CondaRequest(channels: unique, specs: file.dependencies, platform: platform, virtualPackages: virtual)
    }

    var fetcher: Fetcher { Fetcher(cacheDirectory: Fetcher.defaultCacheDirectory, http: HTTPClient.registry) }
}

struct EnvSolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "solve", abstract: "Solve an environment.yml and print the records.")

    @Argument(help: "environment.yml")
    var file: String

    @OptionGroup var options: CondaOptions

    @Flag(help: "Print JSON records instead of `name version build` lines.")
    var json = false

    func run() async throws {
        let environment = try EnvironmentFile.load(file)
        let records = try await options.request(environment).solve(fetcher: options.fetcher)
        if json {
            struct Line: Encodable { var name: String; var version: String; var build: String; var build_number: Int; var subdir: String; var url: String; var sha256: String? }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            let lines = records.map { Line(name: $0.name, version: $0.version.description, build: $0.build, build_number: $0.buildNumber,
                                           subdir: $0.subdir, url: ChannelURL.redact($0.url), sha256: $0.sha256) }
            print(String(decoding: try encoder.encode(lines), as: UTF8.self))
        } else {
            for record in records { print("\(record.name) \(record.version) \(record.build)") }
        }
    }
}

struct EnvInstallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "install", abstract: "Install an environment.yml into a directory on this machine.")

    @Argument(help: "environment.yml")
    var file: String

    @Option(help: "The directory to install into; it must not exist yet.")
    var prefix: String

    @Option(name: .customLong("target-prefix"), help: "The path written into files, if the environment will live elsewhere (default: --prefix).")
    var targetPrefix: String?

    @OptionGroup var options: CondaOptions

    func run() async throws {
        let environment = try EnvironmentFile.load(file)
        let root = URL(fileURLWithPath: prefix).standardizedFileURL
        guard !FileManager.default.fileExists(atPath: root.path) else {
            throw CondaError.install("\(root.path) already exists; kiln env install creates a new prefix")
        }
        let request = try options.request(environment)
        let fetcher = options.fetcher
        let records = try await request.solve(fetcher: fetcher)
        let report = try await Installer.install(records, requested: request.specs, prefix: targetPrefix ?? root.path, root: root,
                                                   fetcher: fetcher, epoch: 0, variables: environment.variables)
        for line in report.warnings { FileHandle.standardError.write(Data("kiln: warning: \(line)\n".utf8)) }
        print("installed \(records.count) packages into \(root.path)")
    }
}

extension CondaError: KilnReportable { var reportText: String { description } }
