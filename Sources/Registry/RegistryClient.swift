import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OCI

/// A client for one registry host over the OCI distribution API, with Basic and Bearer-token auth.
///
/// Requests are built by closures so they can be sent again after an auth challenge: a streamed
/// upload body is re-opened, never buffered.
public final class RegistryClient: Sendable {
    public let registry: String
    let baseURL: String
    let http: HTTPClient
    let credential: Credential?
    let auth = AuthState()
    static let userAgent = "kiln/0.1"

    /// `insecure` allows plain HTTP; loopback hosts always use it, as a local test registry does.
    public init(registry: String, credential: Credential?, http: HTTPClient, insecureHosts: Set<String> = []) throws {
        self.registry = registry
        self.http = http
        self.credential = credential
        let host = registry == Reference.defaultRegistry ? "registry-1.docker.io" : registry
        let plain = Self.isLoopback(host) || insecureHosts.contains(registry)
        baseURL = (plain ? "http://" : "https://") + host
    }

    static func isLoopback(_ host: String) -> Bool {
        let name = host.hasPrefix("[") ? String(host.prefix { $0 != "]" }) + "]" : String(host.split(separator: ":").first ?? "")
        return name == "localhost" || name.hasPrefix("127.") || name == "[::1]"
    }

    func url(_ path: String) -> String { baseURL + path }

    /// Statuses worth another try: timeouts, rate limits and server trouble.
    static let retryableStatuses: Set<UInt> = [408, 429, 500, 502, 503, 504]
    static let maxAttempts = 4

    /// Sends a request made by `make`, answering one auth challenge for `scopes`, and retrying network
    /// errors and retryable statuses with exponential backoff and jitter (honouring Retry-After). The
    /// request is made anew for every attempt, so a streamed body starts again from its first byte.
    /// The response body must be consumed or dropped by the caller.
    func send(_ scopes: [Scope], _ make: () throws -> HTTPClientRequest) async throws -> HTTPClientResponse {
        var attempt = 1
        while true {
            do {
                let response = try await sendOnce(scopes, make)
                guard Self.retryableStatuses.contains(response.status.code), attempt < Self.maxAttempts else { return response }
                let retryAfter = response.headers.first(name: "Retry-After").flatMap(Double.init)
                _ = try? await response.body.collect(upTo: 64 * 1024)
                try await Task.sleep(nanoseconds: Self.backoff(attempt: attempt, retryAfter: retryAfter))
            } catch let error as RegistryError {
                guard case .network = error, attempt < Self.maxAttempts else { throw error }
                try await Task.sleep(nanoseconds: Self.backoff(attempt: attempt, retryAfter: nil))
            }
            attempt += 1
        }
    }

    /// 0.5 s, 1.5 s, 4.5 s … (±10 %), or the server's Retry-After up to 30 s.
    static func backoff(attempt: Int, retryAfter: Double?) -> UInt64 {
        let base = retryAfter.map { min($0, 30) } ?? 0.5 * pow(3, Double(attempt - 1))
        return UInt64(base * Double.random(in: 0.9...1.1) * 1_000_000_000)
    }

    func sendOnce(_ scopes: [Scope], _ make: () throws -> HTTPClientRequest) async throws -> HTTPClientResponse {
        var request = try make()
        try await authorize(&request, scopes: scopes)
        let response = try await execute(request)
        guard response.status == .unauthorized else { return response }
        let header = response.headers["WWW-Authenticate"].joined(separator: ", ")
        let challenges = Challenge.parse(header)
        guard let challenge = challenges.first(where: { $0.scheme == "bearer" }) ?? challenges.first(where: { $0.scheme == "basic" }) else {
            throw RegistryError.unauthorized(registry: registry, detail: "401 without a usable WWW-Authenticate challenge")
        }
        let previous = await auth.challenge(for: registry)
        if challenge.error == "insufficient_scope", previous?.scheme == "bearer" {
            throw RegistryError.insufficientScope(registry: registry, scope: challenge.scope ?? scopes.map(\.description).joined(separator: " "))
        }
        await auth.setChallenge(challenge, for: registry)
        if challenge.scheme == "bearer" {
            await auth.drop(try key(for: challenge, scopes: mergedScopes(scopes, challenge)))
        }
        var retry = try make()
        try await authorize(&retry, scopes: mergedScopes(scopes, challenge))
        let second = try await execute(retry)
        if second.status == .unauthorized {
            let again = Challenge.parse(second.headers["WWW-Authenticate"].joined(separator: ", ")).first
            if again?.error == "insufficient_scope" {
                throw RegistryError.insufficientScope(registry: registry, scope: again?.scope ?? scopes.map(\.description).joined(separator: " "))
            }
            throw RegistryError.unauthorized(registry: registry, detail: credential == nil ? "no credentials were given" : "the registry rejected the credentials")
        }
        return second
    }

    func mergedScopes(_ scopes: [Scope], _ challenge: Challenge) -> [Scope] {
        var all = Set(scopes)
        for text in (challenge.scope ?? "").split(separator: " ") {
            if let scope = Scope(parsing: String(text)), !scopes.contains(where: { $0.covers(scope) }) { all.insert(scope) }
        }
        return all.sorted()
    }

    func key(for challenge: Challenge, scopes: [Scope]) throws -> AuthState.Key {
        guard let realm = challenge.realm else { throw RegistryError.protocolViolation("Bearer challenge without a realm") }
        return AuthState.Key(realm: realm, service: challenge.service ?? "", scopes: scopes, identity: credential?.username ?? "")
    }

    func authorize(_ request: inout HTTPClientRequest, scopes: [Scope]) async throws {
        guard let challenge = await auth.challenge(for: registry) else { return }
        switch challenge.scheme {
        case "basic":
            if let credential { request.headers.replaceOrAdd(name: "Authorization", value: credential.basicHeader) }
        case "bearer":
            let key = try key(for: challenge, scopes: scopes)
            let token: String
            if let cached = await auth.token(key) {
                token = cached
            } else {
                let response = try await fetchToken(challenge, scopes: scopes)
                guard let value = response.value else { throw RegistryError.unauthorized(registry: registry, detail: "the token server sent no token") }
                await auth.store(key, token: value, expires: response.expiry())
                token = value
            }
            request.headers.replaceOrAdd(name: "Authorization", value: "Bearer " + token)
        default:
            throw RegistryError.unauthorized(registry: registry, detail: "unsupported auth scheme '\(challenge.scheme)'")
        }
    }

    /// GET the realm with Basic credentials (or none, for anonymous pull tokens).
    func fetchToken(_ challenge: Challenge, scopes: [Scope]) async throws -> TokenResponse {
        guard let realm = challenge.realm, var components = URLComponents(string: realm) else {
            throw RegistryError.protocolViolation("Bearer challenge without a valid realm")
        }
        var items = components.queryItems ?? []
        if let service = challenge.service { items.append(URLQueryItem(name: "service", value: service)) }
        for scope in scopes { items.append(URLQueryItem(name: "scope", value: scope.description)) }
        if let credential { items.append(URLQueryItem(name: "account", value: credential.username)) }
        components.queryItems = items
        guard let url = components.string else { throw RegistryError.protocolViolation("cannot build token URL") }
        if url.hasPrefix("http://"), let host = components.host, !Self.isLoopback(host), !baseURL.hasPrefix("http://") {
            throw RegistryError.insecureRegistry(host)
        }
        var request = HTTPClientRequest(url: url)
        if let credential { request.headers.add(name: "Authorization", value: credential.basicHeader) }
        let response = try await execute(request)
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else {
            throw RegistryError.unauthorized(registry: registry, detail: "token server \(Redaction.url(realm)) answered \(response.status.code)")
        }
        do {
            return try JSONDecoder().decode(TokenResponse.self, from: Data(body.readableBytesView))
        } catch {
            throw RegistryError.unauthorized(registry: registry, detail: "token server sent malformed JSON")
        }
    }

    func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        var request = request
        request.headers.replaceOrAdd(name: "User-Agent", value: Self.userAgent)
        do {
            return try await http.execute(request, timeout: .minutes(30))
        } catch {
            throw RegistryError.network(url: request.url, detail: "\(error)")
        }
    }

    /// Turns a non-success response into an error carrying the registry's error code.
    func failure(_ response: HTTPClientResponse, method: String, url: String) async -> RegistryError {
        let body = (try? await response.body.collect(upTo: 64 * 1024)).map { Data($0.readableBytesView) } ?? Data()
        struct Errors: Decodable {
            struct Item: Decodable { var code: String?; var message: String? }
            var errors: [Item]?
        }
        let first = (try? JSONDecoder().decode(Errors.self, from: body))?.errors?.first
        return .http(status: Int(response.status.code), method: method, url: url, code: first?.code, message: first?.message)
    }
}
