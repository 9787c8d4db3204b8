import Foundation
import Plan
import Images

/// The whole smoke run: a work directory, the image's bundle, the container under runc, the probes,
/// and cleanup on every way out (success, error, timeout, cancellation, Ctrl-C or SIGTERM).
public enum LocalRun {
    /// Runs the image that `read` returns (its layers on this machine; `read` is given the work
    /// directory for downloads) and probes it as `options` say. Nothing is left behind: the container
    /// is killed and deleted, and the work directory removed, before this returns or throws.
    public static func run(options: RunOptions, read: (URL) async throws -> Image) async throws -> RunResult {
        let runc = try Runc.locate()
        guard options.timeout > 0 else { throw RunError.notRunnable("the timeout must be a positive number of seconds") }
        let cleanup = Cleanup()
        if options.handleSignals { cleanup.exitOnSignals(notice: options.log) }
        defer {
            cleanup.run()
            cleanup.removeSignalHandlers()
        }
        let work = try workDirectory(in: options.temporaryDirectory ?? FileManager.default.temporaryDirectory)
        cleanup.add {
            do { try TreeRemoval.remove(path: work.path) } catch { options.log("could not remove \(work.path): \(error)") }
        }
        let image = try await read(work)
        let config = image.config.config
        let waitRoute = try options.route ?? Route.waitRoute(in: config)
        let scoringRoute = try options.request.map { _ in try options.scoringRoute ?? Route.scoringRoute(in: config) }
        let bundle = try ContainerBundle.create(at: work.appendingPathComponent("bundle").path, image: image, log: options.log)
        try Task.checkCancellation()
        let container = Container(bundle, runc: runc, stateRoot: work.appendingPathComponent("state").path,
                                  logPath: work.appendingPathComponent("container.log").path)
        cleanup.add { container.stop() }
        try container.start()
        options.log("started \(container.id): \(bundle.spec.process.args.joined(separator: " ")); waiting for GET \(waitRoute.url)")
        let probe = HTTPProbe()
        do {
            let ready = try await probe.waitForAnswer(waitRoute, timeout: options.timeout, watching: container)
            options.log("GET \(ready.url) answered \(ready.status) after \(String(format: "%.1f", ready.seconds)) s")
            var scoring: ProbeAnswer?
            if let body = options.request, let scoringRoute {
                scoring = try await probe.post(body, to: scoringRoute, timeout: options.timeout)
            }
            await probe.shutdown()
            return RunResult(manifestDigest: image.manifestDigest.description, ready: ready, scoring: scoring)
        } catch {
            await probe.shutdown()
            throw error
        }
    }

    /// A new private directory, `kiln-run-PID-RANDOM`, in `parent`.
    static func workDirectory(in parent: URL) throws -> URL {
        let url = parent.appendingPathComponent("kiln-run-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))")
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw RunError.runtime("cannot create a work directory in \(parent.path): \(error.localizedDescription)")
        }
        return url
    }
}
