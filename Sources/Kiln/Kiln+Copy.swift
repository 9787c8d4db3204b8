import Foundation
import Images
import OCI
import Plan
import Registry

extension Kiln {
    /// Copies an image from one location to another, as `crane copy` and `skopeo copy` do: a pull is a
    /// copy from a registry to a layout, a push the other way. `platform` picks one image from an index;
    /// without it, an index in a layout is pushed whole to a registry (children first). Blobs already
    /// at a registry destination are skipped, and blobs in the same registry are mounted.
    public static func copy(from source: ImageLocation, to destination: ImageLocation, platform: Platform? = nil,
                            options: BuildOptions = BuildOptions()) async throws -> BuildResult {
        if case .scratch = destination { throw ImageError.output("scratch is an empty base, not somewhere an image can be written") }
        let session = RegistrySession(settings: options.registry)
        if platform == nil, case let .layout(path, tag) = source, case let .registry(reference) = destination {
            let layout = try Layout.open(path)
            let entry = try layout.entry(tag: tag)
            if MediaType.indexes.contains(entry.mediaType) {
                let sink = RegistrySink(reference: reference, tags: options.tags, session: session, remotes: session)
                let push = try await sink.write(index: entry, in: layout)
                return BuildResult(location: destination, index: entry.digest, push: push)
            }
        }
        return try await Staging.around(destination, handleSignals: options.handleSignals) { work in
            let image = try await source.source(session: session, scratch: work.appendingPathComponent("source")).image(platform: platform)
            let sink = try destination.sink(session: session, tags: options.tags)
            let push = try await sink.write(image)
            return BuildResult(location: destination, image: image, push: push)
        }
    }

    /// The tags of a registry repository, every page followed.
    public static func tags(of reference: Reference, pageSize: Int? = nil, options: BuildOptions = BuildOptions()) async throws -> [String] {
        let client = try await RegistrySession(settings: options.registry).client(for: reference)
        guard let tags = try await client.tags(reference.repository, pageSize: pageSize) else {
            throw RegistryError.notFound("repository \(reference.registry)/\(reference.repository)")
        }
        return tags.sorted()
    }
}
