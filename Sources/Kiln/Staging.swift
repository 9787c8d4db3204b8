import Foundation
import Images
import Plan

/// Work directories that leave nothing behind. For a local destination the work happens in a hidden
/// sibling of the output, so finished blobs move into place by rename (or hard link), never by copy;
/// missing parent directories are made, and removed again if the job fails.
enum Staging {
    /// With `handleSignals`, SIGINT and SIGTERM remove the work directory and the parents made for it,
    /// then exit with 130 or 143, so an interrupted job leaves nothing either.
    static func around<T>(_ destination: ImageLocation, handleSignals: Bool = false, _ body: (URL) async throws -> T) async throws -> T {
        let cleanup = Cleanup()
        if handleSignals { cleanup.exitOnSignals() }
        defer {
            cleanup.removeSignalHandlers()
            cleanup.run()
        }
        guard let path = destination.path else {
            let url = try makeTemporaryDirectory()
            cleanup.add { try? FileManager.default.removeItem(at: url) }
            return try await body(url)
        }
        let createdParents = try Atomic.createParents(of: path)
        // After success the parents hold the output, and only empty directories are removed.
        cleanup.add { Atomic.removeEmpty(createdParents) }
        let work = try Atomic.stagingPath(for: path)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: false)
        cleanup.add { try? FileManager.default.removeItem(atPath: work) }
        return try await body(URL(fileURLWithPath: work))
    }

    /// Runs `body` with a private temporary directory that is removed afterwards.
    static func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
        let url = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: url) }
        return try await body(url)
    }

    /// A new private directory, `kiln-PID-RANDOM`, in the system's temporary directory.
    static func makeTemporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
