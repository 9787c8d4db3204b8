@testable import Conda
import Foundation
import Synchronization
import Testing
import TestSupport

/// Builds that share one package cache store the same package at the same time. Once a package's file is
/// in the cache it stays there: a second copy replaces it in one step (rename), never by a remove and then a
/// move, which left a moment when another build could not open it.
@Suite struct SharedPackageCacheTests {
    @Test func aStoredPackageNeverGoesMissingWhileOthersStoreItAgain() async throws {
        let fixture = try CondaFixture.get()
        let cache = try TemporaryDirectory("shared-pkgs")
        let request = try fixture.request(["python 3.11.*"])
        let records = try await request.solve(fetcher: fixture.fetcher(cache))
        let record = try #require(records.first { $0.name == "python" })
        let first = try await fixture.fetcher(cache).package(record)
        let missing = Mutex(0)
        let done = Mutex(false)
        // A reader opens the cached file over and over while eight fetches store it again, as builds that all
        // missed the cache at once do.
        let reader = Thread {
            while !done.withLock({ $0 }) {
                let fd = open(first.url.path, O_RDONLY | O_CLOEXEC)
                if fd < 0 { missing.withLock { $0 += 1 } } else { close(fd) }
            }
        }
        reader.start()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<10 { _ = try await fixture.fetcher(cache).store(record, at: first.url) }
                }
            }
            try await group.waitForAll()
        }
        done.withLock { $0 = true }
        #expect(missing.withLock { $0 } == 0, "the cached package could not be opened while it was stored again")
        #expect(FileManager.default.fileExists(atPath: first.url.path))
        let left = try FileManager.default.contentsOfDirectory(atPath: first.url.deletingLastPathComponent().path).filter { $0.hasSuffix(".part") }
        #expect(left.isEmpty, "\(left)")
    }
}
