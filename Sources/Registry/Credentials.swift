import Foundation

/// A username and secret for one registry. The description never shows the secret.
public struct Credential: Sendable, Equatable, CustomStringConvertible {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public var description: String { "Credential(username: \(username), password: \(Redaction.mask))" }

    /// `Authorization: Basic …`
    public var basicHeader: String { "Basic " + Data("\(username):\(password)".utf8).base64EncodedString() }
}

/// Where credentials come from, in the order Kiln tries them: flags, then the environment.
public struct CredentialStore: Sendable {
    /// From `--username` and `--password-stdin`; applies to every registry this run talks to.
    public var explicit: Credential?
    /// Per registry host, e.g. from an inference config's baseImageRegistry.
    public var perRegistry: [String: Credential]
    public var environment: [String: String]

    public init(explicit: Credential? = nil, perRegistry: [String: Credential] = [:],
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.explicit = explicit
        self.perRegistry = perRegistry
        self.environment = environment
    }

    public func credential(for registry: String) -> Credential? {
        if let explicit { return explicit }
        if let found = perRegistry[registry] { return found }
        if let user = environment["KILN_REGISTRY_USERNAME"], let password = environment["KILN_REGISTRY_PASSWORD"], !user.isEmpty {
            return Credential(username: user, password: password)
        }
        return nil
    }
}
