import AsyncHTTPClient
import Foundation
import HTTP
import NIOCore
import NIOHTTP1
import OCI

extension RegistryClient {
    /// Adds the Authorization header the registry's last challenge asks for, fetching a token if needed.
    func authorize(_ request: inout HTTPClientRequest, scopes: [Scope]) async throws {
        guard let challenge = await auth.challenge(for: registry) else { return }
        switch challenge.scheme {
        case "basic":
            guard let credential else { return }
            guard credential.kind == .basic || isAzure(credential) else {
                throw RegistryError.unauthorized(registry: registry, detail: "the registry wants a password, but the credentials from \(credential.source) are a token")
            }
            request.headers.replaceOrAdd(name: "Authorization", value: credential.basicHeader)
        case "bearer":
            if let credential, credential.kind == .registryToken {
                request.headers.replaceOrAdd(name: "Authorization", value: "Bearer " + credential.password)
                return
            }
            let token = try await auth.token(key(for: challenge, scopes: scopes)) {
                let response = try await self.requestToken(challenge, scopes: scopes)
                guard let value = response.value else { throw RegistryError.unauthorized(registry: self.registry, detail: "the token server sent no token") }
                return AuthState.Token(value: value, expires: response.expiry())
            }
            request.headers.replaceOrAdd(name: "Authorization", value: "Bearer " + token)
        default:
            throw RegistryError.unauthorized(registry: registry, detail: "unsupported auth scheme '\(challenge.scheme)'")
        }
    }

    func isAzure(_ credential: Credential) -> Bool {
        if case .azureServicePrincipal = credential.kind { return true }
        return false
    }

    /// Buys a token the way the credential allows: GET with Basic (passwords, service principals as
    /// Basic, anonymous), POST refresh_token (refresh tokens), or AAD then ACR's exchange (AZURE_*).
    func requestToken(_ challenge: Challenge, scopes: [Scope]) async throws -> TokenResponse {
        guard let realm = challenge.realm, let realmURL = URLComponents(string: realm), let realmHost = realmURL.host else {
            throw RegistryError.protocolViolation("Bearer challenge without a valid realm")
        }
        // A token server on plain HTTP is only trusted when the registry itself is (loopback or --insecure-registry).
        if realmURL.scheme == "http", !Self.isLoopback(realmHost), !baseURL.hasPrefix("http://") {
            throw RegistryError.insecureRegistry(realmHost)
        }
        switch credential?.kind {
        case .refreshToken:
            return try await postRefreshToken(realm: realm, service: challenge.service, scopes: scopes, refreshToken: credential?.password ?? "")
        case let .azureServicePrincipal(tenant):
            let refresh = try await acrRefreshToken(realm: realmURL, service: challenge.service ?? registry, tenant: tenant)
            return try await postRefreshToken(realm: realm, service: challenge.service, scopes: scopes, refreshToken: refresh)
        default:
            return try await getToken(realm: realmURL, service: challenge.service, scopes: scopes)
        }
    }

    /// GET the realm with Basic credentials (or none, for anonymous pull tokens); distribution `token.md`.
    func getToken(realm: URLComponents, service: String?, scopes: [Scope]) async throws -> TokenResponse {
        var components = realm
        var items = components.queryItems ?? []
        if let service { items.append(URLQueryItem(name: "service", value: service)) }
        for scope in scopes { items.append(URLQueryItem(name: "scope", value: scope.description)) }
        if let credential { items.append(URLQueryItem(name: "account", value: credential.username)) }
        components.queryItems = items
        guard let url = components.string else { throw RegistryError.protocolViolation("cannot build token URL") }
        var request = HTTPClientRequest(url: url)
        if let credential { request.headers.add(name: "Authorization", value: credential.basicHeader) }
        return try await tokenExchange(request, what: "token server")
    }

    /// POST `grant_type=refresh_token` to the realm (distribution `oauth.md`; ACR `/oauth2/token`).
    func postRefreshToken(realm: String, service: String?, scopes: [Scope], refreshToken: String) async throws -> TokenResponse {
        let form = [("grant_type", "refresh_token"), ("service", service ?? registry), ("client_id", "kiln"),
                    ("scope", scopes.map(\.description).joined(separator: " ")), ("refresh_token", refreshToken)]
        return try await tokenExchange(Self.formPost(realm, form), what: "token server")
    }

    /// ACR with a service principal: an AAD token by client credentials, exchanged at the realm's origin
    /// for an ACR refresh token (Azure/acr `AAD-OAuth.md`). Cached per realm for the run.
    func acrRefreshToken(realm: URLComponents, service: String, tenant: String) async throws -> String {
        var origin = URLComponents()
        origin.scheme = realm.scheme
        origin.host = realm.host
        origin.port = realm.port
        guard let base = origin.string, let credential else { throw RegistryError.protocolViolation("cannot derive ACR exchange endpoint") }
        let cacheKey = AuthState.Key(realm: base + "/oauth2/exchange", service: service, scopes: [], identity: credential.username)
        return try await auth.token(cacheKey) {
            try await self.exchangeForACRRefreshToken(base: base, service: service, tenant: tenant, credential: credential)
        }
    }

    func exchangeForACRRefreshToken(base: String, service: String, tenant: String, credential: Credential) async throws -> AuthState.Token {
        let authority = options.authorityHost.hasSuffix("/") ? String(options.authorityHost.dropLast()) : options.authorityHost
        guard let authorityURL = URLComponents(string: authority), let authorityHost = authorityURL.host,
              authorityURL.scheme == "https" || (authorityURL.scheme == "http" && Self.isLoopback(authorityHost)) else {
            throw RegistryError.credentials("AZURE_AUTHORITY_HOST '\(authority)' must be an https URL")
        }
        let aad = try await tokenExchange(Self.formPost("\(authority)/\(tenant)/oauth2/v2.0/token", [
            ("grant_type", "client_credentials"), ("client_id", credential.username), ("client_secret", credential.password),
            ("scope", "https://containerregistry.azure.net/.default"),
        ]), what: "Azure AD (\(authorityHost))")
        guard let aadToken = aad.value else { throw RegistryError.unauthorized(registry: registry, detail: "Azure AD sent no access token") }
        let exchanged = try await tokenExchange(Self.formPost(base + "/oauth2/exchange", [
            ("grant_type", "access_token"), ("service", service), ("tenant", tenant), ("access_token", aadToken),
        ]), what: "ACR token exchange")
        guard let refresh = exchanged.refreshToken else {
            throw RegistryError.unauthorized(registry: registry, detail: "the ACR exchange sent no refresh token")
        }
        let expiry = TokenResponse.jwtExpiry(refresh)?.addingTimeInterval(-300) ?? Date().addingTimeInterval(3600)
        return AuthState.Token(value: refresh, expires: expiry)
    }

    static func formPost(_ url: String, _ fields: [(String, String)]) -> HTTPClientRequest {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = fields.map { "\($0)=\($1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: body))
        return request
    }

    /// Sends a token request and decodes the answer; failures never echo the body (it may hold secrets).
    func tokenExchange(_ request: HTTPClientRequest, what: String) async throws -> TokenResponse {
        let response = try await execute(request)
        let body = try await response.body.collect(upTo: 1 << 20, from: request.url)
        guard response.status == .ok else {
            throw RegistryError.unauthorized(registry: registry, detail: "\(what) \(Redaction.url(request.url)) answered \(response.status.code)"
                                             + (credential.map { " for the credentials from \($0.source)" } ?? ""))
        }
        do {
            return try JSONDecoder().decode(TokenResponse.self, from: Data(body.readableBytesView))
        } catch {
            throw RegistryError.unauthorized(registry: registry, detail: "\(what) sent malformed JSON")
        }
    }
}
