import Foundation
import Images
import OCI
import Plan

/// An image's manifest, config and, when asked for, its flattened file list.
public struct Inspection: Sendable, Encodable {
    /// The manifest's digest, as `sha256:<hex>`.
    public var manifestDigest: String
    /// The image manifest.
    public var manifest: Manifest
    /// The image config.
    public var config: ImageConfiguration
    /// `d MODE /path/`, `l MODE /path -> target`, `f MODE SIZE /path sha256:…`, sorted by path bytes.
    public var files: [String]?
}

extension Kiln {
    /// Reads the image at `location` (any readable kind, registry included). With `files`, its layers
    /// are read (downloaded first if remote) and flattened, whiteouts applied.
    public static func inspect(_ location: ImageLocation, platform: Platform? = nil, files: Bool = false,
                               options: BuildOptions = BuildOptions()) async throws -> Inspection {
        let session = RegistrySession(settings: options.registry)
        return try await Staging.withTemporaryDirectory { scratch in
            var image = try await location.source(session: session, scratch: scratch).image(platform: platform)
            var listing: [String]?
            if files {
                image.layers = try await session.downloaded(image.layers, into: scratch.appendingPathComponent("layers").path)
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
            return Inspection(manifestDigest: image.manifestDigest.description, manifest: image.manifest, config: image.config, files: listing)
        }
    }

    /// The files and config fields that differ between two images.
    public static func diff(_ first: ImageLocation, _ second: ImageLocation, platform: Platform? = nil,
                            options: BuildOptions = BuildOptions()) async throws -> ImageDiff {
        let session = RegistrySession(settings: options.registry)
        return try await Staging.withTemporaryDirectory { scratch in
            var images: [Image] = []
            for (number, location) in [first, second].enumerated() {
                let directory = scratch.appendingPathComponent("\(number)")
                var image = try await location.source(session: session, scratch: directory).image(platform: platform)
                image.layers = try await session.downloaded(image.layers, into: directory.appendingPathComponent("layers").path)
                images.append(image)
            }
            return try ImageDiff(images[0], images[1])
        }
    }
}
