import Foundation
import HTTP

/// What a registry credential is, which decides how it buys a token.
public enum CredentialKind: Sendable, Equatable {
    /// A username and password (or an ACR service principal's appId and secret): Basic to the registry,
    /// or to the token realm by GET.
    case basic
    /// An OAuth2 refresh token (docker `identitytoken`, ACR's null-GUID username): POSTed to the realm.
    case refreshToken
    /// A bearer token sent to the registry as is (docker `registrytoken`).
    case registryToken
    /// An Azure service principal for the AAD client-credentials flow; `username` is the client id.
    case azureServicePrincipal(tenant: String)
}

/// A credential for one registry, and where it came from. The description never shows the secret.
public struct Credential: Sendable, Equatable, CustomStringConvertible {
    /// The username ACR pairs with a refresh token (`az acr login --expose-token`).
    public static let nullGUID = "00000000-0000-0000-0000-000000000000"

    public var username: String
    public var password: String
    public var kind: CredentialKind
    /// For messages: "--username", "KILN_REGISTRY_USERNAME", "docker config.json", …
    public var source: String

    public init(username: String, password: String, kind: CredentialKind? = nil, source: String = "flags") {
        self.username = username
        self.password = password
        self.kind = kind ?? (username == Self.nullGUID ? .refreshToken : .basic)
        self.source = source
    }

    public var description: String { "Credential(username: \(username), password: \(Redaction.mask), from: \(source))" }

    /// `Authorization: Basic …`
    public var basicHeader: String { "Basic " + Data("\(username):\(password)".utf8).base64EncodedString() }
}

/// Where credentials come from, in the order Kiln tries them:
/// 1. `--username` + `--password-stdin`; 2. per-registry ones (an inference config's baseImageRegistry);
/// 3. `KILN_REGISTRY_USERNAME`/`KILN_REGISTRY_PASSWORD`; 4. `AZURE_CLIENT_ID`/`AZURE_CLIENT_SECRET`/
/// `AZURE_TENANT_ID` (Azure registries only); 5. docker `config.json`; 6. containers `auth.json`.
public struct CredentialStore: Sendable {
    public var explicit: Credential?
    public var perRegistry: [String: Credential]
    public var environment: [String: String]

    public init(explicit: Credential? = nil, perRegistry: [String: Credential] = [:],
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.explicit = explicit
        self.perRegistry = perRegistry
        self.environment = environment
    }

    public func credential(for registry: String, repository: String = "") throws -> Credential? {
        if let explicit { return explicit }
        if let found = perRegistry[registry] { return found }
        if let user = environment["KILN_REGISTRY_USERNAME"], let password = environment["KILN_REGISTRY_PASSWORD"], !user.isEmpty {
            return Credential(username: user, password: password, source: "KILN_REGISTRY_USERNAME")
        }
        if let azure = azureCredential(for: registry) { return azure }
        for file in dockerConfigFiles() {
            if let found = try DockerConfig.load(file)?.credential(for: registry, repository: repository, environment: environment) {
                return found
            }
        }
        for file in containersAuthFiles() {
            if let found = try DockerConfig.load(file)?.credential(for: registry, repository: repository, environment: environment) {
                return found
            }
        }
        return nil
    }

    /// AZURE_* service principals go only to Azure registries (and to loopback emulators, or hosts listed
    /// in KILN_AZURE_REGISTRIES), so an AAD token is never offered to someone else's token server.
    func azureCredential(for registry: String) -> Credential? {
        guard let client = environment["AZURE_CLIENT_ID"], let secret = environment["AZURE_CLIENT_SECRET"],
              let tenant = environment["AZURE_TENANT_ID"], !client.isEmpty, !secret.isEmpty, !tenant.isEmpty else { return nil }
        let host = registry.split(separator: ":").first.map { $0.lowercased() } ?? ""
        let listed = (environment["KILN_AZURE_REGISTRIES"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let azure = [".azurecr.io", ".azurecr.cn", ".azurecr.us"].contains { host.hasSuffix($0) }
        guard azure || RegistryClient.isLoopback(registry) || listed.contains(registry) else { return nil }
        return Credential(username: client, password: secret, kind: .azureServicePrincipal(tenant: tenant), source: "AZURE_CLIENT_ID")
    }

    var home: String { environment["HOME"] ?? NSHomeDirectory() }

    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    func dockerConfigFiles() -> [String] {
        if let directory = environment["DOCKER_CONFIG"], !directory.isEmpty { return [directory + "/config.json"] }
        return [home + "/.docker/config.json"]
    }

    /// `REGISTRY_AUTH_FILE`, else the containers locations (`$XDG_RUNTIME_DIR`, then `$XDG_CONFIG_HOME`).
    func containersAuthFiles() -> [String] {
        if let file = environment["REGISTRY_AUTH_FILE"], !file.isEmpty { return [file] }
        var files: [String] = []
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty { files.append(runtime + "/containers/auth.json") }
        files.append((environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.config") + "/containers/auth.json")
        return files
    }
}
