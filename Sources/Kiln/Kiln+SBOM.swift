import Environments
import Foundation
import Images
import OCI
import Plan
import Registry

extension Kiln {
    /// The SPDX SBOM attached to the image at `location`: found among the layout's index entries, or
    /// through the registry's referrers API, else its `sha256-<digest>` fallback tag.
    public static func sbom(_ location: ImageLocation, platform: Platform? = nil, options: BuildOptions = BuildOptions()) async throws -> Data {
        let session = RegistrySession(settings: options.registry)
        return try await Staging.withTemporaryDirectory { scratch in
            let image = try await location.source(session: session, scratch: scratch.appendingPathComponent("image")).image(platform: platform)
            switch location {
            case let .layout(path, _):
                let layout = try Layout.open(path)
                for entry in try layout.readIndex().manifests where entry.artifactType == SPDX.mediaType {
                    let manifest = try Manifest.decode(try layout.readJSONBlob(entry), what: "artifact \(entry.digest)")
                    guard manifest.subject?.digest == image.manifestDigest, let blob = manifest.layers.first else { continue }
                    return try Data(contentsOf: layout.blobURL(blob.digest))
                }
            case let .registry(reference):
                let client = try await session.client(for: reference)
                var referrers = try await client.referrers(reference.repository, digest: image.manifestDigest)
                if referrers == nil { referrers = try await client.fallbackReferrers(reference.repository, subject: image.manifestDigest) }
                for entry in referrers?.manifests ?? [] where entry.artifactType == SPDX.mediaType {
                    let manifest = try Manifest.decode(try await client.manifest(reference.repository, reference: entry.digest.description).data,
                                                       what: "artifact \(entry.digest)")
                    guard manifest.subject?.digest == image.manifestDigest, let blob = manifest.layers.first else { continue }
                    let file = scratch.appendingPathComponent("sbom.json").path
                    _ = try await client.downloadBlob(reference.repository, digest: blob.digest, size: blob.size, to: file)
                    return try Data(contentsOf: URL(fileURLWithPath: file))
                }
            case .dockerArchive, .scratch:
                break
            }
            throw ImageError.source("\(location) has no SPDX SBOM attached (Kiln attaches one to images with an environment, in an OCI layout or a registry)")
        }
    }
}
