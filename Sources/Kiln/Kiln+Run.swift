@_exported import Run
import Foundation
import Images
import Plan

extension Kiln {
    /// Runs the image at `image` under runc, with the host's network, and checks that its server
    /// answers: `GET` on the wait route until any HTTP status comes back, then, with `options.request`,
    /// a POST to the scoring route. Routes come from the image's `org.kiln.route.*` labels unless
    /// `options` names them. Layers of a registry image are downloaded first. The container is stopped
    /// and deleted, and its files removed, however the run ends.
    public static func run(_ image: ImageLocation, options: RunOptions = RunOptions()) async throws -> RunResult {
        if case .scratch = image {
            throw RunError.notRunnable("scratch is an empty image with nothing in it to start; give an oci:, docker-archive: or registry image")
        }
        let session = RegistrySession(settings: options.registry)
        return try await LocalRun.run(options: options) { work in
            var read = try await image.source(session: session, scratch: work.appendingPathComponent("source")).image(platform: options.platform)
            read.layers = try await session.downloaded(read.layers, into: work.appendingPathComponent("layers").path)
            return read
        }
    }
}
