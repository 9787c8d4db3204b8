import HTTP
import Foundation
@testable import Registry
import Testing
import TestSupport

@Suite struct ChallengeTests {
    @Test func parsesBearerWithQuotedScopeList() {
        let header = #"Bearer realm="http://127.0.0.1:5001/token",service="test-registry",scope="repository:test/repo:pull,push repository:other/src:pull""#
        let challenges = Challenge.parse(header)
        #expect(challenges.count == 1)
        #expect(challenges[0].scheme == "bearer")
        #expect(challenges[0].realm == "http://127.0.0.1:5001/token")
        #expect(challenges[0].service == "test-registry")
        #expect(challenges[0].scope == "repository:test/repo:pull,push repository:other/src:pull")
    }

    @Test func parsesErrorAndEscapes() {
        let challenges = Challenge.parse(#"Bearer realm="https://a/t",error="insufficient_scope",scope="repository:x:pull,push",note="say \"hi\"""#)
        #expect(challenges[0].error == "insufficient_scope")
        #expect(challenges[0].parameters["note"] == #"say "hi""#)
    }

    @Test func parsesSeveralChallengesAndCaseInsensitiveNames() {
        let challenges = Challenge.parse(#"Basic realm="kiln-test", BEARER Realm="https://auth.example/token",Service=registry.example"#)
        #expect(challenges.map(\.scheme) == ["basic", "bearer"])
        #expect(challenges[0].realm == "kiln-test")
        #expect(challenges[1].realm == "https://auth.example/token")
        #expect(challenges[1].service == "registry.example")
    }

    @Test func scopeParsingKeepsHostPortNames() {
        let scope = Scope(parsing: "repository:localhost:5000/app:push,pull")
        #expect(scope?.name == "localhost:5000/app")
        #expect(scope?.actions == ["pull", "push"])
        #expect(Scope.push("a").covers(.pull("a")))
        #expect(!Scope.pull("a").covers(.push("a")))
        #expect(Scope(parsing: "nonsense") == nil)
    }
}

@Suite struct RedactionTests {
    @Test func urlsLoseQueryAndUserinfo() {
        #expect(Redaction.url("http://127.0.0.1:5000/v2/a/blobs/uploads/u?_state=abc&digest=sha256:1") == "http://127.0.0.1:5000/v2/a/blobs/uploads/u?<redacted>")
        #expect(Redaction.url("https://user:pw@store.blob.core.windows.net/x?sig=SECRET&se=1") == "https://<redacted>@store.blob.core.windows.net/x?<redacted>")
    }

    @Test func textLosesCredentials() {
        let text = #"Authorization: Bearer eyJhbGciOi.payload.sig, Basic dXNlcjpwYXNz {"token":"abc","access_token":"def"} password=hunter2&x=1"#
        let redacted = Redaction.text(text)
        for secret in ["eyJhbGciOi", "dXNlcjpwYXNz", "abc", "def", "hunter2"] { #expect(!redacted.contains(secret), "\(secret)") }
        #expect(redacted.contains("x=1"))
    }

    @Test func credentialDescriptionHidesThePassword() {
        let credential = Credential(username: "sp", password: "s3cr3t")
        #expect(!"\(credential)".contains("s3cr3t"))
        #expect(credential.basicHeader == "Basic " + Data("sp:s3cr3t".utf8).base64EncodedString())
    }

    @Test func credentialOrder() throws {
        let home = try TemporaryDirectory("home")
        let base = ["HOME": home.path, "PATH": "/usr/bin:/bin"]
        let environment = base.merging(["KILN_REGISTRY_USERNAME": "env-user", "KILN_REGISTRY_PASSWORD": "env-pass"]) { $1 }
        let perRegistry = ["myacr.azurecr.io": Credential(username: "base-user", password: "b")]
        #expect(try CredentialStore(explicit: Credential(username: "flag", password: "f"), perRegistry: perRegistry, environment: environment)
            .credential(for: "myacr.azurecr.io")?.username == "flag")
        #expect(try CredentialStore(perRegistry: perRegistry, environment: environment).credential(for: "myacr.azurecr.io")?.username == "base-user")
        #expect(try CredentialStore(perRegistry: perRegistry, environment: environment).credential(for: "other.io")?.username == "env-user")
        #expect(try CredentialStore(environment: base).credential(for: "other.io") == nil)

        // AZURE_* applies to Azure registries (and loopback emulators), before docker's config.
        let azure = base.merging(["AZURE_CLIENT_ID": "app", "AZURE_CLIENT_SECRET": "sec", "AZURE_TENANT_ID": "t"]) { $1 }
        #expect(try CredentialStore(environment: azure).credential(for: "myacr.azurecr.io")?.kind == .azureServicePrincipal(tenant: "t"))
        #expect(try CredentialStore(environment: azure).credential(for: "ghcr.io") == nil)

        // docker config.json: auth (unpadded base64 is accepted), identitytoken, registrytoken, URL keys.
        let auth = Data("alice:pa:ss".utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
        try home.write(".docker/config.json", """
        {"auths": {"reg.example": {"auth": "\(auth)"},
                   "https://tok.example/v1/": {"auth": "\(Data("bob:".utf8).base64EncodedString())", "identitytoken": "refresh-1"},
                   "bearer.example": {"registrytoken": "tok-1"}}}
        """)
        let docker = CredentialStore(environment: base)
        #expect(try docker.credential(for: "reg.example") == Credential(username: "alice", password: "pa:ss", source: "\(home.path)/.docker/config.json (reg.example)"))
        #expect(try docker.credential(for: "tok.example")?.kind == .refreshToken)
        #expect(try docker.credential(for: "tok.example")?.password == "refresh-1")
        #expect(try docker.credential(for: "bearer.example")?.kind == .registryToken)
        // containers auth.json, with namespaced keys, after docker's file.
        let file = try home.write("auth.json", """
        {"auths": {"reg.example/team": {"auth": "\(Data("team:t".utf8).base64EncodedString())"},
                   "other.example": {"auth": "\(Data("o:p".utf8).base64EncodedString())"}}}
        """)
        let containers = CredentialStore(environment: base.merging(["REGISTRY_AUTH_FILE": file]) { $1 })
        #expect(try containers.credential(for: "other.example", repository: "x/y")?.username == "o")
        #expect(try containers.credential(for: "reg.example", repository: "team/app")?.username == "alice")
        try home.write(".docker/config.json", "{}")
        #expect(try containers.credential(for: "reg.example", repository: "team/app")?.username == "team")
        #expect(try containers.credential(for: "reg.example", repository: "solo/app") == nil)
        // The null GUID means the password is a refresh token.
        #expect(Credential(username: Credential.nullGUID, password: "r").kind == .refreshToken)
    }

    @Test func credentialHelpersAndBrokenFiles() throws {
        let home = try TemporaryDirectory("home")
        try home.write("bin/docker-credential-fake", """
        #!/bin/sh
        read server
        case "$server" in
          helped.example) echo '{"ServerURL":"helped.example","Username":"<token>","Secret":"helper-refresh"}' ;;
          stored.example) echo '{"ServerURL":"stored.example","Username":"carol","Secret":"helper-pass"}' ;;
          broken.example) echo 'not json' ;;
          *) echo 'credentials not found in native keychain'; exit 1 ;;
        esac
        """, mode: 0o755)
        let environment = ["HOME": home.path, "PATH": home.file("bin") + ":/usr/bin:/bin"]
        try home.write(".docker/config.json", """
        {"credHelpers": {"helped.example": "fake", "missing.example": "absent"}, "credsStore": "fake",
         "auths": {"nobody.example": {"auth": "\(Data("d:e".utf8).base64EncodedString())"}}}
        """)
        let store = CredentialStore(environment: environment)
        let helped = try store.credential(for: "helped.example")
        #expect(helped?.kind == .refreshToken && helped?.password == "helper-refresh")
        #expect(try store.credential(for: "stored.example")?.username == "carol")
        #expect(try store.credential(for: "nobody.example")?.username == "d")   // the store had none: auths
        #expect(throws: RegistryError.self) { try store.credential(for: "broken.example") }
        let missing = #expect(throws: RegistryError.self) { try store.credential(for: "missing.example") }
        #expect("\(missing!)".contains("docker-credential-absent is not on PATH"))

        try home.write(".docker/config.json", "{\"auths\": [")
        let broken = #expect(throws: RegistryError.self) { try CredentialStore(environment: environment).credential(for: "x.example") }
        #expect("\(broken!)" == "credentials: \(home.path)/.docker/config.json is not a valid credentials file (malformed JSON)")
        try home.write(".docker/config.json", "{\"auths\": {\"x.example\": {\"auth\": \"%%%\"}}}")
        #expect(throws: RegistryError.self) { try CredentialStore(environment: environment).credential(for: "x.example") }
    }

    @Test func tokenExpiryComesFromExpiresInOrTheJWT() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let given = try JSONDecoder().decode(TokenResponse.self, from: Data(#"{"token":"t","expires_in":300}"#.utf8))
        #expect(given.expiry(now: now) == now.addingTimeInterval(270))
        // Servers "should never" send less than 60 s; Docker clamps to 60.
        let short = try JSONDecoder().decode(TokenResponse.self, from: Data(#"{"token":"t","expires_in":5}"#.utf8))
        #expect(short.expiry(now: now) == now.addingTimeInterval(54))
        let issued = try JSONDecoder().decode(TokenResponse.self, from: Data(#"{"token":"t","expires_in":600,"issued_at":"2027-01-15T08:00:00Z"}"#.utf8))
        #expect(issued.expiry(now: now) == ISO8601DateFormatter().date(from: "2027-01-15T08:09:30Z"))
        // ACR sends no expires_in: the JWT's exp decides.
        func jwt(_ claims: String) -> String {
            let encode = { (text: String) in Data(text.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_") }
            return encode(#"{"alg":"ES256"}"#) + "." + encode(claims) + ".c2ln"
        }
        let acr = try JSONDecoder().decode(TokenResponse.self, from: Data(#"{"access_token":"\#(jwt(#"{"exp":1800004500}"#))"}"#.utf8))
        #expect(acr.value?.hasPrefix("eyJ") == true)
        #expect(acr.expiry(now: now) == Date(timeIntervalSince1970: 1_800_004_500 - 30))
        let opaque = try JSONDecoder().decode(TokenResponse.self, from: Data(#"{"access_token":"opaque"}"#.utf8))
        #expect(opaque.expiry(now: now) == now.addingTimeInterval(54))
    }

    @Test func tokenCacheKeysOnScopesAndIdentityAndSharesOneFetch() async throws {
        let state = AuthState()
        let key = AuthState.Key(realm: "https://auth/token", service: "reg", scopes: [.push("a/b")], identity: "alice")
        let counter = Counter()
        async let first = state.token(key) { await counter.bump(); try await Task.sleep(nanoseconds: 50_000_000); return .init(value: "T1", expires: Date().addingTimeInterval(60)) }
        async let second = state.token(key) { await counter.bump(); return .init(value: "T2", expires: Date().addingTimeInterval(60)) }
        let tokens = try await [first, second]
        let fetches = await counter.value
        #expect(tokens == ["T1", "T1"] && fetches == 1)
        var other = key
        other.identity = "bob"
        #expect(await state.token(other) == nil)
        await state.store(other, token: "old", expires: Date().addingTimeInterval(-1))
        #expect(await state.token(other) == nil, "expired tokens are not used")
    }

    actor Counter {
        var value = 0
        func bump() { value += 1 }
    }

    @Test func linkHeaderNextTarget() {
        #expect(RegistryClient.nextLink([#"</v2/a/tags/list?n=2&last=b>; rel="next""#]) == "/v2/a/tags/list?n=2&last=b")
        #expect(RegistryClient.nextLink([#"<https://x/prev>; rel="prev", <https://x/next>; rel=next"#]) == "https://x/next")
        #expect(RegistryClient.nextLink(["<https://x/p>; rel=\"prev\""]) == nil)
        #expect(RegistryClient.nextLink([]) == nil)
    }
}
