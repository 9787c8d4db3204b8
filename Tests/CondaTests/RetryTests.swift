@testable import Conda
import Foundation
@testable import HTTP
import Testing
import TestSupport

/// Conda downloads go through the HTTP layer's retry policy: a package that fails twice with 503 and
/// then arrives is installed, and the proxy saw exactly three requests for it.
@Suite(.serialized) struct CondaRetryTests {
    @Test func packageDownloadRetriedThroughFlakyProxy() async throws {
        let fixture = try CondaFixture.get()
        let root = fixture.directory
        let server = try TestHTTPServer { request in
            let path = request.uri.split(separator: "?").first.map(String.init) ?? ""
            guard let data = FileManager.default.contents(atPath: root + path) else { return .init(status: 404) }
            return .init(status: 200, body: data)
        }
        let log = try TemporaryDirectory("proxy-log")
        let upstream = try #require(Int(server.host.split(separator: ":").last ?? ""))
        let proxy = try FlakyProxy(upstreamPort: upstream, marker: "/hello-", status: 503, count: 2, log: log.file("requests"))
        let cache = try TemporaryDirectory("cache")
        let request = try fixture.request(["hello"], channels: ["http://\(proxy.host)/main"])
        let records = try await request.solve(fetcher: fixture.fetcher(cache))
        let work = try TemporaryDirectory("install")
        let prefix = URL(fileURLWithPath: work.file("env"))
        try await Installer.install(records, requested: request.specs, prefix: prefix.path, root: prefix, fetcher: fixture.fetcher(cache), epoch: 0)
        #expect(FileManager.default.fileExists(atPath: work.file("env/bin/hello")))
        let lines = try String(contentsOfFile: log.file("requests"), encoding: .utf8).split(separator: "\n")
        #expect(lines.filter { $0.contains("/hello-") }.count == 3, "two 503s, then the package: \(lines)")
    }

    @Test func retryPolicyGivesUpAndKeepsTheLastAnswer() {
        var policy = RetryPolicy()
        policy.jitter = 0
        #expect(policy.delay(afterAttempt: 1, retryAfter: nil) == 0.5)
        #expect(policy.delay(afterAttempt: 3, retryAfter: nil) == 4.5)
        #expect(policy.delay(afterAttempt: 1, retryAfter: 120) == 30, "Retry-After is capped")
        #expect(RetryPolicy.seconds(retryAfter: "7") == 7)
        #expect(RetryPolicy.seconds(retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT") == 0, "a date in the past means now")
    }
}
