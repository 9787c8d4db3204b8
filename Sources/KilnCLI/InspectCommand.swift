import ArgumentParser
import Build
import Foundation
import OCI

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show an image's manifest, config and layers.")

    @Argument(help: "oci:DIR[:TAG] or docker-archive:FILE")
    var source: String

    @Option(help: "Platform to pick from an index, os/arch[/variant].")
    var platform: String?

    @Flag(help: "Also list the image's files.")
    var files = false

    struct Report: Encodable {
        var manifestDigest: String
        var manifest: Manifest
        var config: ImageConfiguration
        var files: [String]?
    }

    func run() throws {
        try withScratch { scratch in
            let image = try ImageReader.open(source, platform: platform.map(Platform.init(parsing:)), scratch: scratch)
            var listing: [String]?
            if files {
                let tree = try Filesystem(image: image)
                listing = tree.nodes.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { path, node in
                    let mode = String(node.mode, radix: 8)
                    switch node.kind {
                    case .directory: return "d \(mode) \(path)/"
                    case .symlink: return "l \(mode) \(path) -> \(node.linkTarget ?? "")"
                    default: return "f \(mode) \(node.size) \(path) \(node.contentDigest?.description ?? "")"
                    }
                }
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
            let report = Report(manifestDigest: image.manifestDigest.description, manifest: image.manifest,
                                config: image.config, files: listing)
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        }
    }
}

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: "List the files and config fields that differ between two images.")

    @Argument(help: "oci:DIR[:TAG] or docker-archive:FILE")
    var first: String

    @Argument(help: "oci:DIR[:TAG] or docker-archive:FILE")
    var second: String

    @Flag(help: "Print the differences as JSON.")
    var json = false

    func run() throws {
        try withScratch { scratch in
            let a = try ImageReader.open(first, platform: nil, scratch: scratch.appendingPathComponent("a"))
            let b = try ImageReader.open(second, platform: nil, scratch: scratch.appendingPathComponent("b"))
            let diff = try ImageDiff(a, b)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
                print(String(decoding: try encoder.encode(diff), as: UTF8.self))
            } else if diff.isEmpty {
                print("no differences")
            } else {
                diff.lines.forEach { print($0) }
            }
        }
    }
}

/// Runs `body` with a private temporary directory that is removed afterwards.
func withScratch<T>(_ body: (URL) throws -> T) throws -> T {
    let url = try makeScratch()
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

func withScratch<T>(_ body: (URL) async throws -> T) async throws -> T {
    let url = try makeScratch()
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url)
}

private func makeScratch() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
