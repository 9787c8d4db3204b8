import Foundation
import Registry
import Testing

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

    @Test func credentialOrder() {
        let environment = ["KILN_REGISTRY_USERNAME": "env-user", "KILN_REGISTRY_PASSWORD": "env-pass"]
        let perRegistry = ["myacr.azurecr.io": Credential(username: "base-user", password: "b")]
        #expect(CredentialStore(explicit: Credential(username: "flag", password: "f"), perRegistry: perRegistry, environment: environment)
            .credential(for: "myacr.azurecr.io")?.username == "flag")
        #expect(CredentialStore(perRegistry: perRegistry, environment: environment).credential(for: "myacr.azurecr.io")?.username == "base-user")
        #expect(CredentialStore(perRegistry: perRegistry, environment: environment).credential(for: "other.io")?.username == "env-user")
        #expect(CredentialStore(environment: [:]).credential(for: "other.io") == nil)
    }
}
