import AsyncHTTPClient
import Foundation
import Plan
import NIOCore
import NIOHTTP1

/// One answer from the container's server.
public struct ProbeAnswer: Sendable, Equatable, Encodable {
    /// `GET` or `POST`.
    public var method: String
    /// The URL asked.
    public var url: String
    /// The HTTP status code.
    public var status: Int
    /// The body, as UTF-8 text; only kept for a POSTed request.
    public var body: String?
    /// Seconds from the first attempt to the answer.
    public var seconds: Double
}

/// Talks HTTP to a container's server on 127.0.0.1. Its own client follows no redirects (a probe reports
/// the first answer, and must never be sent off the loopback host) and fails a refused connection at
/// once, so a server that is not listening yet is simply asked again 200 ms later.
public final class HTTPProbe: Sendable {
    let client: HTTPClient
    /// Pause between attempts while nothing answers.
    static let retryInterval: Duration = .milliseconds(200)
    /// Longest answer body kept.
    static let bodyLimit = 16 << 20

    /// A probe with a client of its own; call `shutdown()` when done.
    public init() {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow,
                                                     timeout: .init(connect: .seconds(5)))
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes the client's connections.
    public func shutdown() async {
        try? await client.shutdown()
    }

    /// Asks `GET route` until any HTTP status comes back, for at most `timeout` seconds. It ends at once,
    /// with the process's last log lines, when `process` exits first.
    public func waitForAnswer(_ route: Route, timeout: Double, watching process: some WatchedProcess) async throws -> ProbeAnswer {
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int64(timeout * 1000))
        return try await withThrowingTaskGroup(of: ProbeAnswer.self) { group in
            group.addTask { try await self.poll(route, start: start, deadline: deadline, timeout: timeout, process: process) }
            group.addTask { try await Self.watch(process, url: route.url) }
            defer { group.cancelAll() }
            guard let answer = try await group.next() else { throw CancellationError() }
            return answer
        }
    }

    /// POSTs `body` as application/json to `route` and returns the status and body.
    public func post(_ body: Data, to route: Route, timeout: Double) async throws -> ProbeAnswer {
        let start = ContinuousClock.now
        var request = HTTPClientRequest(url: route.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            let buffer = try await response.body.collect(upTo: Self.bodyLimit)
            return ProbeAnswer(method: "POST", url: route.url, status: Int(response.status.code), body: String(buffer: buffer),
                               seconds: Self.seconds(since: start))
        } catch {
            throw RunError.request(url: route.url, detail: Self.summary(of: error))
        }
    }

    private func poll(_ route: Route, start: ContinuousClock.Instant, deadline: ContinuousClock.Instant, timeout: Double,
                      process: some WatchedProcess) async throws -> ProbeAnswer {
        var last = "nothing answered"
        while true {
            // Checked here too, so an exit is reported as such even when this task wakes after the deadline.
            if let status = process.exitStatus {
                throw RunError.exited(status: status, url: route.url, log: process.logTail(lines: 10))
            }
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else {
                throw RunError.notAnswered(url: route.url, seconds: timeout, lastAttempt: last, log: process.logTail(lines: 10))
            }
            do {
                let milliseconds = max(1, remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000)
                let response = try await client.execute(HTTPClientRequest(url: route.url), timeout: .milliseconds(milliseconds))
                _ = try? await response.body.collect(upTo: Self.bodyLimit)
                return ProbeAnswer(method: "GET", url: route.url, status: Int(response.status.code), body: nil,
                                   seconds: Self.seconds(since: start))
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                try Task.checkCancellation()
                last = Self.summary(of: error)
            }
            try await Task.sleep(for: min(Self.retryInterval, max(.zero, deadline - ContinuousClock.now)))
        }
    }

    /// Returns never; throws `exited` once the process has ended.
    private static func watch(_ process: some WatchedProcess, url: String) async throws -> ProbeAnswer {
        while true {
            if let status = process.exitStatus {
                throw RunError.exited(status: status, url: url, log: process.logTail(lines: 10))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// A short reason for a failed attempt: `connection refused` rather than NIO's full description.
    static func summary(of error: Error) -> String {
        let text = String(describing: error)
        if text.localizedCaseInsensitiveContains("refused") { return "connection refused" }
        if let client = error as? HTTPClientError {
            switch client {
            case .deadlineExceeded, .readTimeout, .connectTimeout: return "no answer in time"
            case .remoteConnectionClosed: return "the server closed the connection"
            default: break
            }
        }
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
