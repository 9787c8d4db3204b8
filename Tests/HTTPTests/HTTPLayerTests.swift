import OCI
import AsyncHTTPClient
@testable import HTTP
import Foundation
import Testing
import TestSupport

/// The shared HTTP layer against a loopback server: retries, the conditional-GET cache, redaction.
@Suite struct HTTPLayerTests {
    @Test func safeURLRedactsWhenPrinted() {
        let url = SafeURL("https://user:pa55@host.example/t/tok-123/simple/x/?sig=abc&se=1#sha256=f")
        #expect("\(url)" == "https://<redacted>@host.example/t/<redacted>/simple/x/?<redacted>#sha256=f")
        #expect(url.raw.contains("pa55"), "the transport still gets the real URL")
        #expect(Redaction.text("GET https://u:p@h/x answered 401: Bearer abc.def") == "GET https://<redacted>@h/x answered 401: Bearer <redacted>")
    }

    @Test func retriesServerErrorsThenSucceeds() async throws {
        let counter = Counter()
        let server = try TestHTTPServer { _ in
            counter.next() <= 2 ? .init(status: 503, headers: [("Retry-After", "0")]) : .init(status: 200, body: Data("ok".utf8))
        }
        var policy = RetryPolicy()
        policy.baseDelay = 0.01
        let response = try await policy.send { _ in try await HTTPClients.shared().execute(HTTPClientRequest(url: "http://\(server.host)/x"), timeout: .seconds(10)) }
        #expect(response.status.code == 200)
        #expect(server.requests.count == 3)
    }

    @Test func givesUpAfterMaxAttemptsWithTheLastAnswer() async throws {
        let server = try TestHTTPServer { _ in .init(status: 500) }
        var policy = RetryPolicy()
        policy.baseDelay = 0.01
        policy.maxAttempts = 3
        let response = try await policy.send { _ in try await HTTPClients.shared().execute(HTTPClientRequest(url: "http://\(server.host)/x"), timeout: .seconds(10)) }
        #expect(response.status.code == 500 && server.requests.count == 3)
    }

    @Test func conditionalGetServesA304FromDisk() async throws {
        let server = try TestHTTPServer { request in
            request.header("If-None-Match") == "\"v1\"" ? .init(status: 304, headers: [("ETag", "\"v1\"")])
                : .init(status: 200, headers: [("ETag", "\"v1\""), ("Content-Type", "application/json")], body: Data("{}".utf8))
        }
        let directory = try TemporaryDirectory("http-cache")
        let cache = HTTPCache(directory: directory.url)
        let url = "http://\(server.host)/repodata.json"
        for _ in 0..<2 {
            guard case let .body(data, type) = try await cache.get(HTTPClientRequest(url: url), key: HTTPCache.key(url), client: HTTPClients.shared(), limit: 1 << 20) else {
                Issue.record("no body")
                return
            }
            #expect(data == Data("{}".utf8) && type == "application/json")
        }
        #expect(server.requests.map { $0.header("If-None-Match") } == [nil, "\"v1\""])
        #expect(server.requests.allSatisfy { $0.header("User-Agent") == KilnVersion.userAgent })
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
