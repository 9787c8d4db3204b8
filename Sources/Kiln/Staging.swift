import Foundation
import Images
import Plan

/// Work directories that leave nothing behind. For a local destination the work happens in a hidden
/// sibling of the output, so finished blobs move into place by rename (or hard link), never by copy;
/// missing parent directories are made, and removed again if the job fails.
enum Staging {
    static func around<T>(_ destination: ImageLocation, _ body: (URL) async throws -> T) async throws -> T {
        guard let path = destination.path else { return try await withTemporaryDirectory(body) }
        let createdParents = try Atomic.createParents(of: path)
        do {
            let work = try Atomic.stagingPath(for: path)
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: false)
            defer { try? FileManager.default.removeItem(atPath: work) }
            return try await body(URL(fileURLWithPath: work))
        } catch {
            Atomic.removeEmpty(createdParents)
            throw error
        }
    }

    /// Runs `body` with a private temporary directory that is removed afterwards.
    static func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: url) }
        return try await body(url)
    }
}
