import Foundation
import NIOCore

/// How long Kiln waits on a server that has stopped sending, or sends too slowly to ever finish.
///
/// A read timeout alone never ends a response that trickles one byte a second: every byte resets it.
/// So a response must also deliver `minimumBytes` in every `window`, or be complete. The same window
/// bounds the wait for a response's head to requests without a body, and the idle read timeout.
/// `KILN_HTTP_TIMEOUT` (seconds) sets the window, as `UV_HTTP_TIMEOUT` does for uv.
public struct Pace: Sendable {
    /// The window, and the longest wait for a head or for the next bytes.
    public var window: Duration
    /// The fewest bytes a response must deliver in each window while it is not complete.
    public var minimumBytes: Int

    /// 60 seconds and 1 KiB, unless `KILN_HTTP_TIMEOUT` gives another window.
    public static let current = Pace(environment: ProcessInfo.processInfo.environment)

    public init(window: Duration = .seconds(60), minimumBytes: Int = 1024) {
        self.window = window
        self.minimumBytes = minimumBytes
    }

    /// The window from `KILN_HTTP_TIMEOUT` when it holds a positive number of seconds.
    public init(environment: [String: String]) {
        let seconds = environment["KILN_HTTP_TIMEOUT"].flatMap(Double.init).flatMap { $0 > 0 ? $0 : nil } ?? 60
        self.init(window: .milliseconds(Int64(seconds * 1000)))
    }

    /// The window as NIO's time amount, for client timeouts and request deadlines.
    public var timeAmount: TimeAmount {
        let (seconds, attoseconds) = window.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// The window in whole seconds (at least 1), for messages.
    var seconds: Int { max(1, Int(window.components.seconds)) }

    /// Counts bytes as they arrive and throws `HTTPError.tooSlow` when a window closes short.
    public struct Meter: Sendable {
        let pace: Pace
        let url: SafeURL
        let clock = ContinuousClock()
        var start: ContinuousClock.Instant
        var bytes = 0

        init(pace: Pace, url: SafeURL) {
            self.pace = pace
            self.url = url
            start = clock.now
        }

        /// Records `count` more bytes.
        public mutating func record(_ count: Int) throws {
            bytes += count
            let now = clock.now
            guard now - start >= pace.window else { return }
            if bytes < pace.minimumBytes { throw HTTPError.tooSlow(url, bytes: bytes, seconds: pace.seconds) }
            start = now
            bytes = 0
        }
    }

    /// A meter for a response from `url`.
    public func meter(_ url: SafeURL) -> Meter { Meter(pace: self, url: url) }
}
