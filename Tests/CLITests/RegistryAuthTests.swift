import Foundation
import OCI
import Testing
import TestSupport

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Token auth against a real distribution 2.8.2 and fixtures/token_server.py (ES256, libtrust kid),
/// including ACR's AAD exchange and service-principal Basic flows, and every credential source.
@Suite(.serialized) struct RegistryAuthTests {
    struct SkopeoInspect: Decodable { var Digest: String; var Layers: [String] }
    static let tenant = "kiln-tenant"
    static let appID = "11111111-2222-3333-4444-555555555555"
    static let appSecret = "sp-secret-\(UUID().uuidString)"
    static let alicePassword = "alice-pw-\(UUID().uuidString)"

    struct Setup {
        let tokens: TokenServer
        let registry: TestRegistry
        let fixture: Fixture
        let out: TemporaryDirectory
        let built: KilnBinary.BuildOutput
        var layout: String { "oci:\(out.file("layout")):v1" }
    }

    func setup() throws -> Setup {
        let tokens = try TokenServer(users: ["alice": (Self.alicePassword, ["pull", "push"]), "reader": ("reader-pw", ["pull"])],
                                     aad: .init(tenant: Self.tenant, clientID: Self.appID, secret: Self.appSecret))
        let registry = try TestRegistry(.token(tokens))
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        let built = try KilnBinary.build(fixture.standardArguments + ["--output", "oci:\(out.file("layout")):v1"])
        return Setup(tokens: tokens, registry: registry, fixture: fixture, out: out, built: built)
    }

    /// Fails when any output holds a password or a token the token server issued.
    func expectNoSecrets(_ results: [ProcessResult], _ setup: Setup, extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) {
        let secrets = setup.tokens.issuedSecrets() + [Self.appSecret, Self.alicePassword, "reader-pw"] + extra
        #expect(setup.tokens.issuedSecrets().count > 0, sourceLocation: sourceLocation)
        for result in results {
            for secret in secrets where !secret.isEmpty {
                #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret), "leaked \(secret.prefix(12))…", sourceLocation: sourceLocation)
            }
        }
    }

    func skopeoDigest(_ setup: Setup, _ repository: String, creds: String = "alice:\(alicePassword)") throws -> String {
        let inspect = try run("skopeo", ["inspect", "--tls-verify=false", "--creds", creds, "docker://\(setup.registry.host)/\(repository)"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        return try JSONDecoder().decode(SkopeoInspect.self, from: Data(inspect.stdout.utf8)).Digest
    }

    @Test func tokenModePushPullWithSkopeoAndNoSecretsAtVerbose() throws {
        let setup = try setup()
        let environment = ["KILN_REGISTRY_USERNAME": "alice", "KILN_REGISTRY_PASSWORD": Self.alicePassword]
        let push = try KilnBinary.run(["push", setup.layout, "\(setup.registry.host)/ml/app:1", "--verbose"], environment: environment)
        #expect(push.status == 0, "\(push.stderr)")
        #expect(push.stderr.contains("[Authorization: Bearer <redacted>]"), "verbose shows that it redacts")
        #expect(push.stderr.contains("/oauth2/token?<redacted>"))
        #expect(try skopeoDigest(setup, "ml/app:1") == setup.built.manifestDigest)
        let copy = try run("skopeo", ["copy", "--src-tls-verify=false", "--src-creds", "alice:\(Self.alicePassword)",
                                      "docker://\(setup.registry.host)/ml/app:1", "oci:\(setup.out.file("skopeo")):x"])
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(try KilnBinary.run(["diff", setup.layout, "oci:\(setup.out.file("skopeo")):x"]).stdout == "no differences\n")
        // Kiln pulls what skopeo pushed, in token mode too.
        let skopeoPush = try run("skopeo", ["copy", "--dest-tls-verify=false", "--dest-creds", "alice:\(Self.alicePassword)", "--format", "v2s2",
                                            setup.layout, "docker://\(setup.registry.host)/fmt/docker:1"])
        #expect(skopeoPush.status == 0, "\(skopeoPush.stderr)")
        let pull = try KilnBinary.run(["pull", "\(setup.registry.host)/fmt/docker:1", "oci:\(setup.out.file("pulled")):1", "--verbose"], environment: environment)
        #expect(pull.status == 0, "\(pull.stderr)")
        #expect(try KilnBinary.run(["diff", setup.layout, "oci:\(setup.out.file("pulled")):1"]).stdout == "no differences\n")

        // A second push uploads no blob: the registry's own access log has no upload request.
        let before = setup.registry.requests().count
        let again = try KilnBinary.run(["push", setup.layout, "\(setup.registry.host)/ml/app:1"], environment: environment)
        #expect(again.status == 0, "\(again.stderr)")
        let second = setup.registry.requests().dropFirst(before)
        #expect(!second.contains { $0.method == "POST" || $0.method == "PATCH" || ($0.method == "PUT" && $0.path.contains("/blobs/")) },
                "\(second)")
        #expect(second.filter { $0.method == "HEAD" && $0.status == 200 }.count == 3)

        // Wrong password: the token server refuses it, one line, no retry storm.
        let wrong = try KilnBinary.run(["push", setup.layout, "\(setup.registry.host)/ml/app:2"],
                                 environment: ["KILN_REGISTRY_USERNAME": "alice", "KILN_REGISTRY_PASSWORD": "nope-\(UUID())"])
        #expect(wrong.status != 0)
        #expect(wrong.stderr.hasPrefix("kiln: error: authentication to \(setup.registry.host) failed: token server"), "\(wrong.stderr)")
        #expect(wrong.stderr.contains("answered 401 for the credentials from KILN_REGISTRY_USERNAME"))
        expectNoSecrets([push, pull, again, wrong], setup)
    }

    @Test func anonymousPullTokensForPublicRepositories() throws {
        let setup = try setup()
        let environment = ["KILN_REGISTRY_USERNAME": "alice", "KILN_REGISTRY_PASSWORD": Self.alicePassword]
        #expect(try KilnBinary.run(["push", setup.layout, "\(setup.registry.host)/public/app:1"], environment: environment).status == 0)
        #expect(try KilnBinary.run(["push", setup.layout, "\(setup.registry.host)/private/app:1"], environment: environment).status == 0)
        let before = setup.tokens.requests().count
        let pull = try KilnBinary.run(["pull", "\(setup.registry.host)/public/app:1", "oci:\(setup.out.file("public")):1"], environment: ["KILN_REGISTRY_USERNAME": ""])
        #expect(pull.status == 0, "\(pull.stderr)")
        #expect(setup.tokens.requests().dropFirst(before).allSatisfy { $0.method == "GET" && !$0.authorization }, "anonymous token requests")
        let denied = try KilnBinary.run(["pull", "\(setup.registry.host)/private/app:1", "oci:\(setup.out.file("private")):1"], environment: ["KILN_REGISTRY_USERNAME": ""])
        #expect(denied.status != 0)
        #expect(denied.stderr.hasPrefix("kiln: error: \(setup.registry.host) denied access (insufficient_scope for repository:private/app:pull)"), "\(denied.stderr)")
        #expect(!FileManager.default.fileExists(atPath: setup.out.file("private")))
    }

    @Test func insufficientScopeAfterAFreshTokenIsAnErrorWithoutALoop() throws {
        let setup = try setup()
        let before = setup.tokens.requests().count
        let push = try KilnBinary.run(["push", setup.layout, "\(setup.registry.host)/ml/app:1"],
                                environment: ["KILN_REGISTRY_USERNAME": "reader", "KILN_REGISTRY_PASSWORD": "reader-pw"])
        #expect(push.status != 0)
        #expect(push.stderr.hasPrefix("kiln: error: \(setup.registry.host) denied access (insufficient_scope for repository:ml/app:"), "\(push.stderr)")
        #expect(push.stderr.split(separator: "\n").count == 1)
        // At most a handful of token requests (one per distinct scope), not a retry loop.
        #expect(setup.tokens.requests().count - before <= 4, "\(setup.tokens.requests())")
        #expect(setup.registry.requests().filter { $0.method == "PUT" }.isEmpty)
    }

    @Test func acrServicePrincipalExchangeFlow() throws {
        let setup = try setup()
        let environment = ["AZURE_CLIENT_ID": Self.appID, "AZURE_CLIENT_SECRET": Self.appSecret, "AZURE_TENANT_ID": Self.tenant,
                           "AZURE_AUTHORITY_HOST": "http://\(setup.tokens.host)", "KILN_REGISTRY_USERNAME": ""]
        let push = try KilnBinary.run(["push", setup.layout, "\(setup.registry.host)/acr/app:1", "--verbose"], environment: environment)
        #expect(push.status == 0, "\(push.stderr)")
        let flow = setup.tokens.requests().map { "\($0.method) \($0.path)" }
        #expect(try skopeoDigest(setup, "acr/app:1") == setup.built.manifestDigest)
        #expect(flow.first == "POST /\(Self.tenant)/oauth2/v2.0/token", "\(flow)")
        #expect(flow.filter { $0 == "POST /oauth2/exchange" }.count == 1, "the ACR refresh token is reused: \(flow)")
        #expect(flow.contains("POST /oauth2/token"))
        #expect(!flow.contains { $0.hasPrefix("GET ") })
        let pull = try KilnBinary.run(["pull", "\(setup.registry.host)/acr/app:1", "oci:\(setup.out.file("pulled")):1"], environment: environment)
        #expect(pull.status == 0, "\(pull.stderr)")
        // A wrong secret fails at the AAD emulator, in one line.
        var bad = environment
        bad["AZURE_CLIENT_SECRET"] = "wrong-\(UUID())"
        let refused = try KilnBinary.run(["push", setup.layout, "\(setup.registry.host)/acr/app:2"], environment: bad)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("Azure AD (127.0.0.1) http://\(setup.tokens.host)/\(Self.tenant)/oauth2/v2.0/token answered 401"), "\(refused.stderr)")
        expectNoSecrets([push, pull, refused], setup, extra: [bad["AZURE_CLIENT_SECRET"] ?? ""])
    }

    @Test func acrServicePrincipalAsBasicAndNullGUIDRefreshToken() throws {
        let setup = try setup()
        // appId + secret as a username and password: GET the realm with Basic.
        let basic = try TestSupport.run(KilnBinary.binary, ["push", setup.layout, "\(setup.registry.host)/acr/basic:1",
                                                      "--username", Self.appID, "--password-stdin"], stdin: Self.appSecret + "\n")
        #expect(basic.status == 0, "\(basic.stderr)")
        #expect(setup.tokens.requests().contains { $0.method == "GET" && $0.path == "/oauth2/token" && $0.authorization })
        // A refresh token (as `az acr login --expose-token` gives) with the null-GUID username: POST refresh_token.
        let refresh = try offlineRefreshToken(setup)
        let before = setup.tokens.requests().count
        let guid = try KilnBinary.run(["pull", "\(setup.registry.host)/acr/basic:1", "oci:\(setup.out.file("guid")):1", "--verbose"],
                                environment: ["KILN_REGISTRY_USERNAME": "00000000-0000-0000-0000-000000000000", "KILN_REGISTRY_PASSWORD": refresh])
        #expect(guid.status == 0, "\(guid.stderr)")
        let used = setup.tokens.requests().dropFirst(before)
        #expect(used.contains { $0.method == "POST" && $0.path == "/oauth2/token" } && !used.contains { $0.method == "GET" })
        expectNoSecrets([basic, guid], setup, extra: [refresh])
    }

    /// GET the realm with offline_token=true, as `docker login` does, for a refresh token.
    func offlineRefreshToken(_ setup: Setup) throws -> String {
        let url = "http://\(setup.tokens.host)/oauth2/token?service=\(TokenServer.service)&offline_token=true&client_id=test"
        let result = try run(pythonPath(), ["-c", """
        import base64, json, sys, urllib.request
        request = urllib.request.Request(sys.argv[1], headers={"Authorization": "Basic " + base64.b64encode(sys.argv[2].encode()).decode()})
        print(json.load(urllib.request.urlopen(request))["refresh_token"])
        """, url, "alice:\(Self.alicePassword)"])
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func dockerConfigAuthsIdentityTokensHelpersAndAuthJSON() throws {
        let setup = try setup()
        let home = try TemporaryDirectory("home")
        let host = setup.registry.host
        let clean = ["KILN_REGISTRY_USERNAME": "", "HOME": home.path, "DOCKER_CONFIG": home.file("docker")]
        func push(_ tag: String, _ extra: [String: String] = [:]) throws -> ProcessResult {
            try KilnBinary.run(["push", setup.layout, "\(host)/cfg/app:\(tag)"], environment: clean.merging(extra) { $1 })
        }
        let basicAuth = Data("alice:\(Self.alicePassword)".utf8).base64EncodedString()
        try home.write("docker/config.json", #"{"auths": {"\#(host)": {"auth": "\#(basicAuth)"}}}"#)
        let auths = try push("auths")
        #expect(auths.status == 0, "\(auths.stderr)")

        let refresh = try offlineRefreshToken(setup)
        try home.write("docker/config.json", #"{"auths": {"\#(host)": {"auth": "\#(Data("alice:".utf8).base64EncodedString())", "identitytoken": "\#(refresh)"}}}"#)
        let before = setup.tokens.requests().count
        let identity = try push("identity")
        #expect(identity.status == 0, "\(identity.stderr)")
        #expect(setup.tokens.requests().dropFirst(before).allSatisfy { $0.method == "POST" })

        try home.write("bin/docker-credential-kilntest", """
        #!/bin/sh
        read server
        [ "$server" = "\(host)" ] || { echo "credentials not found in native keychain"; exit 1; }
        printf '{"ServerURL":"%s","Username":"alice","Secret":"%s"}' "$server" "\(Self.alicePassword)"
        """, mode: 0o755)
        let path = home.file("bin") + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        try home.write("docker/config.json", #"{"credHelpers": {"\#(host)": "kilntest"}}"#)
        let helper = try push("helper", ["PATH": path])
        #expect(helper.status == 0, "\(helper.stderr)")
        try home.write("docker/config.json", #"{"credsStore": "kilntest"}"#)
        let store = try push("store", ["PATH": path])
        #expect(store.status == 0, "\(store.stderr)")

        try home.write("docker/config.json", "{}")
        let authFile = try home.write("auth.json", #"{"auths": {"\#(host)/cfg": {"auth": "\#(basicAuth)"}}}"#)
        let containers = try push("containers", ["REGISTRY_AUTH_FILE": authFile])
        #expect(containers.status == 0, "\(containers.stderr)")
        let none = try push("none")
        #expect(none.status != 0)

        try home.write("docker/config.json", "{not json")
        let broken = try push("broken")
        #expect(broken.stderr == "kiln: error: credentials: \(home.file("docker"))/config.json is not a valid credentials file (malformed JSON)\n")
        let tags = try KilnBinary.run(["tags", "\(host)/cfg/app"], environment: ["KILN_REGISTRY_USERNAME": "alice", "KILN_REGISTRY_PASSWORD": Self.alicePassword])
        #expect(tags.stdout == "auths\ncontainers\nhelper\nidentity\nstore\n", "\(tags.stderr)")
        expectNoSecrets([auths, identity, helper, store, containers, none, broken, tags], setup, extra: [refresh, basicAuth])
    }

    @Test func registryBaseIsMountedNotDownloadedAndCrossRegistryStreams() throws {
        let setup = try setup()
        let host = setup.registry.host
        let environment = ["KILN_REGISTRY_USERNAME": "alice", "KILN_REGISTRY_PASSWORD": Self.alicePassword]
        let random = Data((0..<300_000).map { _ in UInt8.random(in: 0...255) })
        try setup.out.write("base-files/blob.bin", random)
        let base = try KilnBinary.build(["--base", "scratch", "--add", "\(setup.out.file("base-files")):/opt/base", "--env", "BASE=1",
                                   "--output", "\(host)/base/python:1"], environment: environment)
        let before = setup.registry.requests().count
        let derived = try KilnBinary.build(setup.fixture.standardArguments.map { $0 == "scratch" ? "\(host)/base/python:1" : $0 }
                                     + ["--output", "\(host)/ml/derived:1"], environment: environment)
        #expect(derived.layers.first?.digest == base.layers.first?.digest)
        let requests = setup.registry.requests().dropFirst(before)
        let baseLayer = try #require(base.layers.first?.digest)
        #expect(!requests.contains { $0.method == "GET" && $0.path.hasSuffix(baseLayer) }, "no base bytes were downloaded")
        #expect(requests.contains { $0.method == "POST" && $0.status == 201 }, "the base layer was mounted: \(requests)")
        #expect(try skopeoDigest(setup, "ml/derived:1") == derived.manifestDigest)

        // Another registry: the base layer streams through from the first one.
        let other = try TestRegistry()
        let crossed = try KilnBinary.build(setup.fixture.standardArguments.map { $0 == "scratch" ? "\(host)/base/python:1" : $0 }
                                     + ["--output", "\(other.host)/ml/derived:1"], environment: environment)
        #expect(crossed.manifestDigest == derived.manifestDigest)
        #expect(setup.registry.requests().filter { $0.method == "GET" && $0.path.hasSuffix(baseLayer) }.count == 1)
        let copy = try run("skopeo", ["copy", "--src-tls-verify=false", "docker://\(other.host)/ml/derived:1", "oci:\(setup.out.file("crossed")):1"])
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: setup.out.file("crossed/blobs/sha256/\(baseLayer.dropFirst(7))"))).count == base.layers[0].size)
    }
}
