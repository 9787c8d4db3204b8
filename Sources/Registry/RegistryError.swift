import HTTP

/// Errors from talking to a registry. Messages name the registry, repository and status, never a secret.
public enum RegistryError: Error, CustomStringConvertible {
    case http(status: Int, method: String, url: SafeURL, code: String?, message: String?)
    case unauthorized(registry: String, detail: String)
    case insufficientScope(registry: String, scope: String)
    case digestMismatch(what: String, expected: String, actual: String)
    case protocolViolation(String)
    case network(url: SafeURL, detail: String)
    case insecureRegistry(String)
    case notFound(String)
    case credentials(String)
    case tls(String)

    public var description: String {
        switch self {
        case let .http(status, method, url, code, message):
            var text = "registry answered \(status) to \(method) \(url)"
            if let code { text += ": \(code)" }
            if let message, !message.isEmpty { text += " (\(Redaction.text(message)))" }
            return text
        case let .unauthorized(registry, detail): return "authentication to \(registry) failed: \(Redaction.text(detail))"
        case let .insufficientScope(registry, scope): return "\(registry) denied access (insufficient_scope for \(scope)); check the credentials' permissions"
        case let .digestMismatch(what, expected, actual): return "\(what): content digest \(actual) does not match the expected \(expected)"
        case let .protocolViolation(detail): return "registry protocol error: \(Redaction.text(detail))"
        case let .network(url, detail): return "cannot reach \(url): \(detail)"
        case let .insecureRegistry(host): return "refusing plain HTTP to \(host); use https, or allow plain HTTP for \(host) (an insecure registry) if you trust the network"
        case let .notFound(what): return "not found: \(what)"
        case let .credentials(detail): return "credentials: \(Redaction.text(detail))"
        case let .tls(detail): return "TLS: \(Redaction.text(detail))"
        }
    }
}
