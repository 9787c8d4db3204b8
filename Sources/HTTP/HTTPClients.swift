import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL

/// The one place that creates HTTP clients. Registry, conda and pip traffic share them, so every
/// request gets the same TLS trust, redirect rule and connection pool.
///
/// Clients follow up to five redirects; AsyncHTTPClient drops `Authorization` when a redirect crosses
/// origins, as the distribution spec requires of storage redirects. A refused connection fails at once
/// instead of being retried until the request's deadline: `RetryPolicy` decides about retries. TLS is
/// always verified. The read timeout is `Pace.current`'s window, so a server that stops sending is cut off.
public enum HTTPClients {
    nonisolated(unsafe) private static var clients: [String: HTTPClient] = [:]
    private static let lock = NSLock()

    /// The client that trusts the system's CA certificates and, when `caFile` is given, those in that
    /// PEM file too. One client per CA file lives for the rest of the process.
    public static func shared(caFile: String? = nil) -> HTTPClient {
        lock.lock()
        defer { lock.unlock() }
        let key = caFile ?? ""
        if let client = clients[key] { return client }
        var configuration = HTTPClient.Configuration(redirectConfiguration: .follow(max: 5, allowCycles: false),
                                                     timeout: .init(connect: .seconds(15), read: Pace.current.timeAmount))
        configuration.connectionPool.retryConnectionEstablishment = false
        if let caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.additionalTrustRoots = [.file(caFile)]
            configuration.tlsConfiguration = tls
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        clients[key] = client
        return client
    }

    /// The CA file to trust besides the system's: `explicit`, else `$SSL_CERT_FILE`; nil when neither is set.
    /// A named file that cannot be read is an error, so a typo never silently falls back to the system's CAs.
    public static func caFile(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        let fromEnvironment = environment["SSL_CERT_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        guard let file = explicit ?? fromEnvironment else { return nil }
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw HTTPError.caFile(file, fromEnvironment: explicit == nil)
        }
        return file
    }
}

/// Errors from the HTTP layer itself; callers wrap transport failures in their own module's error.
public enum HTTPError: Error, CustomStringConvertible, Sendable {
    /// A CA file that does not exist or cannot be read.
    case caFile(String, fromEnvironment: Bool)
    /// A response body longer than the caller allows.
    case tooLarge(SafeURL, limit: Int)
    /// A response that stalled, or delivered fewer than `Pace.minimumBytes` in a window.
    case tooSlow(SafeURL, bytes: Int, seconds: Int)
    /// A response whose body broke off: the connection closed early, or the framing was invalid.
    case broken(SafeURL, String)

    /// A one-line message naming the file or the redacted URL.
    public var description: String {
        switch self {
        case let .caFile(path, fromEnvironment):
            return "\(fromEnvironment ? "SSL_CERT_FILE" : "CA file") '\(path)': no such readable file"
        case let .tooLarge(url, _), let .tooSlow(url, _, _), let .broken(url, _):
            return "\(url): \(detail)"
        }
    }

    /// What went wrong, without the URL, for a caller whose message already names it.
    public var detail: String {
        switch self {
        case .caFile: return description
        case let .tooLarge(_, limit): return "the response is larger than \(limit) bytes"
        case let .tooSlow(_, bytes, seconds):
            return bytes == 0 ? "the server sent nothing for \(seconds) s (KILN_HTTP_TIMEOUT sets how long to wait)"
                : "the server sent only \(bytes) bytes in \(seconds) s (KILN_HTTP_TIMEOUT sets how long to wait)"
        case let .broken(_, detail): return "the answer broke off (\(detail))"
        }
    }

    /// A transport failure in words a user can act on: untrusted certificates, timeouts, redirect loops,
    /// connections closed early. Anything else is described as the library describes it.
    public static func explain(_ error: Error) -> String {
        if let error = error as? HTTPError { return error.detail }
        if case let NIOSSLError.handshakeFailed(reason) = error {
            let text = "\(reason)"
            if text.contains("CERTIFICATE_VERIFY_FAILED") {
                return "the TLS certificate is not trusted; trust its CA (a CA file in the registry settings, or SSL_CERT_FILE)"
            }
            return "TLS handshake failed (\(text.components(separatedBy: " at ").first ?? text))"
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout:
                return "no answer within \(Pace.current.seconds) s (KILN_HTTP_TIMEOUT sets how long to wait)"
            case .connectTimeout:
                return "the connection timed out"
            case .redirectLimitReached, .redirectCycleDetected:
                return "too many redirects (a redirect loop?)"
            case .remoteConnectionClosed:
                return "the server closed the connection early"
            default:
                break
            }
        }
        let text = "\(error)"
        if text.contains("Connection refused") { return "connection refused" }
        if text == "stream ended at an unexpected time" || text.contains("invalidEOFState") {
            return "the server closed the connection before the declared Content-Length"
        }
        return text
    }
}
