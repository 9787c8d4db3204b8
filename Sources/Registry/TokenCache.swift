import Foundation

/// Bearer tokens keyed by (realm, service, scopes, identity), kept until shortly before they expire,
/// and the auth scheme learned per registry.
actor AuthState {
    struct Key: Hashable {
        var realm: String
        var service: String
        var scopes: [Scope]
        var identity: String
    }

    struct Token {
        var value: String
        var expires: Date
    }

    private var tokens: [Key: Token] = [:]
    private var challenges: [String: Challenge] = [:]

    func challenge(for registry: String) -> Challenge? { challenges[registry] }
    func setChallenge(_ challenge: Challenge, for registry: String) { challenges[registry] = challenge }

    func token(_ key: Key, now: Date = Date()) -> String? {
        guard let token = tokens[key], token.expires > now else { return nil }
        return token.value
    }

    func store(_ key: Key, token: String, expires: Date) { tokens[key] = Token(value: token, expires: expires) }

    private var inFlight: [Key: Task<Token, Error>] = [:]

    /// The cached token for `key`, or the result of `fetch`, run once however many uploads ask at the
    /// same moment (four concurrent blob pushes must not buy four tokens).
    func token(_ key: Key, fetch: @escaping @Sendable () async throws -> Token) async throws -> String {
        if let cached = token(key) { return cached }
        if let running = inFlight[key] { return try await running.value.value }
        let task = Task { try await fetch() }
        inFlight[key] = task
        defer { inFlight[key] = nil }
        let fresh = try await task.value
        tokens[key] = fresh
        return fresh.value
    }
    func drop(_ key: Key) { tokens[key] = nil }
}

/// The token server's answer (distribution `token.md`).
struct TokenResponse: Decodable {
    var token: String?
    var accessToken: String?
    var expiresIn: Int?
    var issuedAt: String?
    var refreshToken: String?

    enum CodingKeys: String, CodingKey {
        case refreshToken = "refresh_token"
        case token
        case accessToken = "access_token"
        case expiresIn = "expires_in"
        case issuedAt = "issued_at"
    }

    var value: String? { accessToken ?? token }

    /// When to stop using the token: issued_at (or now) + expires_in (default 60 s, or the JWT's
    /// `exp` when expires_in is absent, as on ACR), less a safety margin.
    func expiry(now: Date = Date()) -> Date {
        let issued = issuedAt.flatMap { ISO8601DateFormatter().date(from: $0) } ?? now
        var lifetime = Double(expiresIn ?? 60)
        if expiresIn == nil, let value, let exp = Self.jwtExpiry(value) { return exp.addingTimeInterval(-min(30, exp.timeIntervalSince(now) / 10)) }
        lifetime = max(lifetime, 60)
        return issued.addingTimeInterval(lifetime - min(30, lifetime / 10))
    }

    static func jwtExpiry(_ token: String) -> Date? {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { return nil }
        var payload = String(parts[1]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while payload.count % 4 != 0 { payload += "=" }
        guard let data = Data(base64Encoded: payload),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let exp = object["exp"] as? NSNumber else { return nil }
        return Date(timeIntervalSince1970: exp.doubleValue)
    }
}
