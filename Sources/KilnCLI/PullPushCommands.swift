import ArgumentParser
import Build
import Foundation
import OCI
import Registry

struct PullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pull", abstract: "Pull an image from a registry into an OCI layout.")

    @Argument(help: "REGISTRY/REPO[:TAG|@DIGEST]")
    var reference: String

    @Argument(help: "oci:DIR[:TAG]")
    var destination: String

    @Option(help: "Platform to pick from an index, os/arch[/variant]; default: the host's.")
    var platform: String?

    @OptionGroup var registryOptions: RegistryOptions

    func run() async throws {
        let source = try Reference(parsing: reference)
        guard case let .layout(path, tag) = try OutputTarget(parsing: destination) else {
            throw BuildError.invalidArgument("destination '\(destination)': kiln pull writes oci:DIR[:TAG]")
        }
        let wanted = try platform.map(Platform.init(parsing:)) ?? .host
        let client = try await registryOptions.client(for: source, store: registryOptions.store())
        let parents = try Atomic.createParents(of: path)
        do {
            let work = try Atomic.stagingPath(for: path)
            defer { try? FileManager.default.removeItem(atPath: work) }
            let image = try await RegistryTransfer.pull(source, platform: wanted, client: client, into: URL(fileURLWithPath: work))
            try LayoutOutput.write(image, to: path, tag: tag ?? source.tag)
            print("pulled \(source) \(image.manifestDigest)")
        } catch {
            Atomic.removeEmpty(parents)
            throw error
        }
    }
}

struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "push", abstract: "Push an image from an OCI layout or docker-archive to a registry.")

    @Argument(help: "oci:DIR[:TAG] or docker-archive:FILE")
    var source: String

    @Argument(help: "REGISTRY/REPO[:TAG]")
    var reference: String

    @Option(help: "Tag to push (repeatable; `auto` = the next integer tag); default: the reference's tag.")
    var tag: [String] = []

    @Option(help: "Push only this platform's image from an index, os/arch[/variant]; default: the whole index.")
    var platform: String?

    @OptionGroup var registryOptions: RegistryOptions

    func run() async throws {
        let target = try Reference(parsing: reference)
        try RegistryOptions.validate(tags: tag)
        let client = try await registryOptions.client(for: target, store: registryOptions.store())
        let wanted = try platform.map(Platform.init(parsing:))
        if wanted == nil, case let .layout(path, name) = try OutputTarget(parsing: source) {
            let layout = try Layout.open(path)
            let entry = try layout.entry(tag: name)
            if MediaType.indexes.contains(entry.mediaType) {
                let tags = try await registryOptions.resolve(tags: tag, for: target, client: client)
                let report = try await RegistryTransfer.pushIndex(entry, in: layout, to: target, tags: tags, client: client)
                print("pushed \(target.registry)/\(target.repository):\((tags.isEmpty ? [target.tagOrLatest] : tags).joined(separator: ",")) \(entry.digest) \(report.summary)")
                return
            }
        }
        try await withScratch { scratch in
            let image = try ImageReader.open(source, platform: wanted, scratch: scratch)
            let tags = try await registryOptions.resolve(tags: tag, for: target, client: client)
            let report = try await RegistryTransfer.push(image, to: target, tags: tags, client: client)
            print("pushed \(target.registry)/\(target.repository):\((tags.isEmpty ? [target.tagOrLatest] : tags).joined(separator: ",")) \(image.manifestDigest) \(report.summary)")
        }
    }
}

struct TagsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tags", abstract: "List a repository's tags, one per line.")

    @Argument(help: "REGISTRY/REPO")
    var repository: String

    @Option(name: .customLong("page-size"), help: "Tags per request (the registry's `n`); pages are followed.")
    var pageSize: Int?

    @OptionGroup var registryOptions: RegistryOptions

    func run() async throws {
        let reference = try Reference(parsing: repository)
        if let pageSize, pageSize < 1 { throw BuildError.invalidArgument("--page-size must be at least 1") }
        let client = try await registryOptions.client(for: reference, store: registryOptions.store())
        guard let tags = try await client.tags(reference.repository, pageSize: pageSize) else {
            throw RegistryError.notFound("repository \(reference.registry)/\(reference.repository)")
        }
        for tag in tags.sorted() { print(tag) }
    }
}

extension PushReport {
    var summary: String { "(uploaded \(uploaded.count), mounted \(mounted.count), present \(existing.count))" }
}
