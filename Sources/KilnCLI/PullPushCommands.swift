import ArgumentParser
import Foundation
import Kiln

struct PullCommand: AsyncParsableCommand, ReportsProgress {
    static let configuration = CommandConfiguration(
        commandName: "pull", abstract: "Pull an image from a registry into an OCI layout.",
        discussion: """
        EXAMPLES:
          kiln pull myregistry.azurecr.io/ml/churn:3 oci:out/churn:3
          kiln pull myregistry.azurecr.io/ml/churn:3 oci:out/arm --platform linux/arm64
          kiln pull myregistry.azurecr.io/ml/churn:3 oci:out/churn --json
        """)
    @OptionGroup var consoleOptions: ConsoleOptions

    @Argument(help: "REGISTRY/REPO[:TAG|@DIGEST]")
    var reference: String
    @Argument(help: "oci:DIR[:TAG]")
    var destination: String
    @Option(help: "Platform to pick from an index, os/arch[/variant]; default: the host's.")
    var platform: String?
    @Flag(help: "Print one JSON object (source, destination, manifestDigest) instead.")
    var json = false
    @OptionGroup var registryOptions: RegistryOptions

    func run() async throws {
        let source = try Reference(parsing: reference)
        guard case let .layout(path, tag) = try ImageLocation(parsing: destination) else {
            throw PlanError.invalid("destination '\(destination)': kiln pull writes oci:DIR[:TAG]")
        }
        let wanted = try platform.map(Platform.init(parsing:)) ?? .host
        let result = try await Kiln.copy(from: .registry(source), to: .layout(path: path, tag: tag ?? source.tag), platform: wanted,
                                         options: registryOptions.options())
        if json {
            print(try prettyJSON(["source": source.description, "destination": destination, "manifestDigest": result.manifestDigest.description]))
        } else {
            print("pulled \(source) \(result.manifestDigest)")
        }
    }
}

struct PushCommand: AsyncParsableCommand, ReportsProgress {
    static let configuration = CommandConfiguration(
        commandName: "push", abstract: "Push an image from an OCI layout or docker-archive to a registry.",
        discussion: """
        EXAMPLES:
          kiln push oci:out/churn:1 myregistry.azurecr.io/ml/churn:1
          kiln push docker-archive:churn.tar myregistry.azurecr.io/ml/churn --tag auto
          kiln push oci:out/churn:1 myregistry.azurecr.io/ml/churn \\
            --tag 1 --tag latest --json
        """)
    @OptionGroup var consoleOptions: ConsoleOptions

    @Argument(help: "oci:DIR[:TAG] or docker-archive:FILE")
    var source: String
    @Argument(help: "REGISTRY/REPO[:TAG]")
    var reference: String
    @Option(help: "Tag to push (repeatable; `auto` = the next integer tag); default: the reference's tag.")
    var tag: [String] = []
    @Option(help: "Push only this platform's image from an index, os/arch[/variant]; default: the whole index.")
    var platform: String?
    @Flag(help: "Print one JSON object (pushed, manifestDigest, tags, uploaded, mounted, present) instead.")
    var json = false
    @OptionGroup var registryOptions: RegistryOptions

    func run() async throws {
        let target = try Reference(parsing: reference)
        try RegistryOptions.validate(tags: tag)
        let from = try ImageLocation(parsing: source)
        var options = try registryOptions.options()
        options.tags = try await RegistryOptions.resolve(tags: tag, for: target, options: options)
        let result = try await Kiln.copy(from: from, to: .registry(target), platform: try platform.map(Platform.init(parsing:)), options: options)
        let push = result.push
        let name = push?.pushedName(target, digest: result.manifestDigest) ?? "\(target.registry)/\(target.repository):\(target.tagOrLatest)"
        if json {
            print(try prettyJSON(PushReport(pushed: name, manifestDigest: result.manifestDigest.description, push: push)))
        } else {
            print("pushed \(name) \(result.manifestDigest) \(push?.summary ?? "")")
        }
    }
}

struct TagsCommand: AsyncParsableCommand, ReportsProgress {
    static let configuration = CommandConfiguration(
        commandName: "tags", abstract: "List a repository's tags, one per line.",
        discussion: """
        EXAMPLES:
          kiln tags myregistry.azurecr.io/ml/churn
          kiln tags myregistry.azurecr.io/ml/churn --page-size 100 --json
        """)
    @OptionGroup var consoleOptions: ConsoleOptions

    @Argument(help: "REGISTRY/REPO")
    var repository: String
    @Option(name: .customLong("page-size"), help: "Tags per request (the registry's `n`); pages are followed.")
    var pageSize: Int?
    @Flag(help: "Print one JSON object (repository, tags) instead.")
    var json = false
    @OptionGroup var registryOptions: RegistryOptions

    func run() async throws {
        let reference = try Reference(parsing: repository)
        if let pageSize, pageSize < 1 { throw PlanError.invalid("--page-size must be at least 1") }
        let tags = try await Kiln.tags(of: reference, pageSize: pageSize, options: registryOptions.options())
        if json {
            struct Listing: Encodable { var repository: String; var tags: [String] }
            print(try prettyJSON(Listing(repository: "\(reference.registry)/\(reference.repository)", tags: tags)))
        } else {
            tags.forEach { print($0) }
        }
    }
}

/// What `kiln push --json` prints.
struct PushReport: Encodable {
    var pushed: String
    var manifestDigest: String
    var tags: [String]
    var uploaded: [String]
    var mounted: [String]
    var present: [String]

    init(pushed: String, manifestDigest: String, push: PushSummary?) {
        self.pushed = pushed
        self.manifestDigest = manifestDigest
        tags = push?.tags ?? []
        uploaded = push?.uploaded.map(\.description) ?? []
        mounted = push?.mounted.map(\.description) ?? []
        present = push?.existing.map(\.description) ?? []
    }
}
