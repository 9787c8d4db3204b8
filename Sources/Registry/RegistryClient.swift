import AsyncHTTPClient
import Foundation
import HTTP
import NIOCore
import NIOHTTP1
import NIOSSL
import OCI

/// A client for one registry host over the OCI distribution API, with Basic and Bearer-token auth.
///
/// Requests are built by closures so they can be sent again after an auth challenge: a streamed
/// upload body is re-opened, never buffered.
public final class RegistryClient: Sendable {
    /// Settings that are not per registry.
    public struct Options: Sendable {
        /// Hosts that may be spoken to over plain HTTP (loopback always may).
        public var insecureHosts: Set<String> = []
        /// Upload blobs in PATCH chunks of this many bytes (raised to the registry's OCI-Chunk-Min-Length);
        /// nil sends each blob in one streamed PATCH.
        public var chunkSize: Int64?
        /// Receives one line per HTTP exchange (`--verbose`), with every secret already redacted.
        public var log: (@Sendable (String) -> Void)?
        /// The AAD authority for Azure service principals; `AZURE_AUTHORITY_HOST`, as Azure's SDKs read it.
        public var authorityHost = ProcessInfo.processInfo.environment["AZURE_AUTHORITY_HOST"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "https://login.microsoftonline.com"

        public init() {}
    }

    public let registry: String
    let baseURL: String
    let http: HTTPClient
    let credential: Credential?
    let options: Options
    let auth = AuthState()

    /// HTTPS, always verified; `plainHTTP` only where `mayUsePlainHTTP` allows it (see `connect`).
    public init(registry: String, credential: Credential?, http: HTTPClient, options: Options = Options(), plainHTTP: Bool = false) throws {
        self.registry = registry
        self.http = http
        self.credential = credential
        self.options = options
        if plainHTTP, !Self.mayUsePlainHTTP(registry, options: options) { throw RegistryError.insecureRegistry(registry) }
        baseURL = (plainHTTP ? "http://" : "https://") + Self.apiHost(registry)
    }

    /// A client for `registry`, choosing the scheme as go-containerregistry does: HTTPS, except that a
    /// loopback or `--insecure-registry` host that does not speak TLS is spoken to over plain HTTP.
    public static func connect(registry: String, credential: Credential?, http: HTTPClient, options: Options = Options()) async throws -> RegistryClient {
        guard mayUsePlainHTTP(registry, options: options) else {
            return try RegistryClient(registry: registry, credential: credential, http: http, options: options)
        }
        var probe = HTTPClientRequest(url: "https://\(apiHost(registry))/v2/")
        probe.headers.add(name: "User-Agent", value: KilnVersion.userAgent)
        let speaksTLS: Bool
        do {
            let response = try await http.execute(probe, timeout: .seconds(10))
            await response.body.discard(from: probe.url)
            speaksTLS = true
        } catch NIOSSLError.handshakeFailed(let reason) {
            // A plain-HTTP server answers a ClientHello with text: WRONG_VERSION_NUMBER. Anything else
            // (an untrusted certificate) means it does speak TLS, and verification must not be skipped.
            speaksTLS = !"\(reason)".contains("WRONG_VERSION_NUMBER")
        } catch {
            speaksTLS = false
        }
        options.log?("\(registry) speaks \(speaksTLS ? "HTTPS" : "plain HTTP")")
        return try RegistryClient(registry: registry, credential: credential, http: http, options: options, plainHTTP: !speaksTLS)
    }

    static func mayUsePlainHTTP(_ registry: String, options: Options) -> Bool {
        isLoopback(registry) || options.insecureHosts.contains(registry)
    }

    static func apiHost(_ registry: String) -> String { registry == Reference.defaultRegistry ? "registry-1.docker.io" : registry }

    static func isLoopback(_ host: String) -> Bool {
        let name = host.hasPrefix("[") ? String(host.prefix { $0 != "]" }) + "]" : String(host.split(separator: ":").first ?? "")
        return name == "localhost" || name.hasPrefix("127.") || name == "[::1]"
    }

    func url(_ path: String) -> String { baseURL + path }

    /// Retries for every request this client sends.
    static let retryPolicy = RetryPolicy.standard

    /// Sends a request made by `make`, answering one auth challenge for `scopes`, and retrying network
    /// errors and retryable statuses as `RetryPolicy` says. The request is made anew for every attempt,
    /// so a streamed body starts again from its first byte. The response body must be consumed or
    /// dropped by the caller.
    func send(_ scopes: [Scope], _ make: () throws -> HTTPClientRequest) async throws -> HTTPClientResponse {
        try await Self.retryPolicy.send({ _ in try await sendOnce(scopes, make) }, retryable: { error in
            if case RegistryError.network = error { return true }
            return false
        }, log: options.log.map { [registry] log in { line in log("\(registry): \(line)") } })
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
            throw RegistryError.unauthorized(registry: registry, detail: credential.map { "the registry rejected the credentials from \($0.source)" } ?? "no credentials were given")
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

    func execute(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        var request = request
        request.headers.replaceOrAdd(name: "User-Agent", value: KilnVersion.userAgent)
        let log = options.log
        log?("> \(request.method.rawValue) \(Redaction.url(request.url))" + Self.describe(request.headers))
        do {
            // A read must get its answer's head within the pace's window. A write's head comes only after its
            // whole body has gone, so it gets 30 minutes in all; the client's idle read timeout (the window)
            // still starts once the body is sent.
            let reads = request.method == .GET || request.method == .HEAD
            let response = try await http.execute(request, timeout: reads ? Pace.current.timeAmount : .minutes(30))
            log?("< \(response.status.code) \(request.method.rawValue) \(Redaction.url(request.url))" + Self.describe(response.headers))
            return response
        } catch {
            log?("< failed \(request.method.rawValue) \(Redaction.url(request.url)): \(error)")
            throw RegistryError.network(url: SafeURL(request.url), detail: HTTPError.explain(error))
        }
    }

    /// Headers worth seeing at --verbose, with credentials and signed URLs masked.
    static func describe(_ headers: HTTPHeaders) -> String {
        let shown = ["authorization", "www-authenticate", "location", "content-range", "range", "content-length",
                     "docker-content-digest", "oci-chunk-min-length", "retry-after", "link"]
        return headers.filter { shown.contains($0.name.lowercased()) }.map { name, value in
            let lower = name.lowercased()
            let safe = lower == "authorization" ? (value.split(separator: " ").first.map { "\($0) " } ?? "") + Redaction.mask
                : lower == "location" || lower == "link" ? Redaction.url(value) : Redaction.text(value)
            return " [\(name): \(safe)]"
        }.joined()
    }

    /// Turns a non-success response into an error carrying the registry's error code.
    func failure(_ response: HTTPClientResponse, method: String, url: String) async -> RegistryError {
        let body = (try? await response.body.collect(upTo: 64 * 1024, from: url)).map { Data($0.readableBytesView) } ?? Data()
        struct Errors: Decodable {
            struct Item: Decodable { var code: String?; var message: String? }
            var errors: [Item]?
        }
        let first = (try? JSONDecoder().decode(Errors.self, from: body))?.errors?.first
        return .http(status: Int(response.status.code), method: method, url: SafeURL(url), code: first?.code, message: first?.message)
    }
}
