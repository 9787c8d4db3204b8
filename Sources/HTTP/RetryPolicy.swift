import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL

/// When and how long to wait before sending a request again: exponential backoff with jitter, the
/// server's `Retry-After`, a cap on attempts and a deadline for the whole exchange.
///
/// Registry, conda and pip traffic all retry through `send`, so a flaky mirror behaves the same
/// whichever part of Kiln talks to it.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included.
    public var maxAttempts = 4
    /// The wait after the first failure, in seconds; each later wait is `multiplier` times longer.
    public var baseDelay = 0.5
    /// How much longer each wait is than the one before.
    public var multiplier = 3.0
    /// The wait varies by up to this fraction either way, so that many clients do not retry in step.
    public var jitter = 0.1
    /// The longest `Retry-After` honoured, in seconds.
    public var maxRetryAfter = 30.0
    /// No attempt starts after this much time has passed since the first.
    public var deadline: Duration = .seconds(600)

    /// Statuses worth another try: timeouts, rate limits and server trouble.
    public static let retryableStatuses: Set<UInt> = [408, 429, 500, 502, 503, 504]

    /// 4 attempts, waiting 0.5 s, 1.5 s and 4.5 s (±10 %), within 10 minutes.
    public static let standard = RetryPolicy()

    /// The standard policy; change its fields to adjust it.
    public init() {}

    /// The wait before attempt `attempt + 1`, in seconds.
    public func delay(afterAttempt attempt: Int, retryAfter: Double?) -> Double {
        let base = retryAfter.map { min(max($0, 0), maxRetryAfter) } ?? baseDelay * pow(multiplier, Double(attempt - 1))
        return base * Double.random(in: (1 - jitter)...(1 + jitter))
    }

    /// Sends the request `attempt` makes until it gets an answer whose status is not retryable, or
    /// attempts or time run out; then that answer (or the last error) is the result. `attempt` is called
    /// anew each time with the attempt number, so a streamed body starts again from its first byte.
    /// `retryable` decides which thrown errors are worth another try. The body of a retried answer is
    /// drained here; the caller owns the body of the answer returned.
    public func send(isolation: isolated (any Actor)? = #isolation, _ attempt: (Int) async throws -> HTTPClientResponse,
                     retryable: (Error) -> Bool = RetryPolicy.isTransient,
                     log: ((String) -> Void)? = nil) async throws -> HTTPClientResponse {
        let clock = ContinuousClock()
        let start = clock.now
        var number = 1
        while true {
            do {
                let response = try await attempt(number)
                guard Self.retryableStatuses.contains(response.status.code) else { return response }
                let retryAfter = response.headers.first(name: "Retry-After").flatMap(Self.seconds(retryAfter:))
                let wait = delay(afterAttempt: number, retryAfter: retryAfter)
                guard number < maxAttempts, clock.now - start + .seconds(wait) < deadline else { return response }
                await response.body.discard(from: "")
                log?("answer \(response.status.code), retrying in \(String(format: "%.1f", wait)) s")
                try await Task.sleep(for: .seconds(wait))
            } catch {
                let wait = delay(afterAttempt: number, retryAfter: nil)
                guard !(error is CancellationError), retryable(error), number < maxAttempts,
                      clock.now - start + .seconds(wait) < deadline else { throw error }
                log?("\(error), retrying in \(String(format: "%.1f", wait)) s")
                try await Task.sleep(for: .seconds(wait))
            }
            number += 1
        }
    }

    /// Transport failures that may pass: connection resets, timeouts, refused connections. A TLS
    /// handshake failure (an untrusted certificate) never passes by retrying.
    public static func isTransient(_ error: Error) -> Bool {
        if error is NIOSSLError { return false }
        if let error = error as? HTTPClientError {
            return ![HTTPClientError.invalidURL, .emptyHost, .emptyScheme, .unsupportedScheme(""), .redirectLimitReached,
                     .redirectCycleDetected, .cancelled].contains(error)
        }
        return true
    }

    /// `Retry-After` as delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
    static func seconds(retryAfter text: String) -> Double? {
        if let seconds = Double(text.trimmingCharacters(in: .whitespaces)) { return seconds }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text).map { max(0, $0.timeIntervalSinceNow) }
    }
}
