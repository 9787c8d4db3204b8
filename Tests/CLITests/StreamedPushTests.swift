import Foundation
import Testing
import TestSupport

/// `kiln build --output REGISTRY/REPO` uploads each new layer while it writes it: one PATCH with a
/// chunked body of unknown length, then PUT `?digest=`. Proved through fixtures/flaky_proxy.py, which
/// logs each request's framing; a registry that refuses or cuts the stream gets the layer from its file.
@Suite(.serialized) struct StreamedPushTests {
    struct SkopeoInspect: Decodable { var Digest: String; var Layers: [String] }

    /// The fixture plus 6 MB of random bytes and 1 MB of text under /data. Each build gets an empty layer
    /// cache (`cold`), so every layer is written anew: only a layer that missed the cache streams, and
    /// `--no-cache` streams none.
    struct Inputs {
        let fixture: Fixture
        let work: TemporaryDirectory
        var arguments: [String] {
            fixture.standardArguments + ["--add", "\(work.file("payload")):/data"]
        }
        /// An environment with a layer cache of its own, empty.
        var cold: [String: String] { ["KILN_CACHE_DIR": work.file("cache-\(UUID().uuidString)")] }
        var layout: String { "oci:\(work.file("layout")):v1" }
    }

    func inputs() throws -> (Inputs, KilnBinary.BuildOutput) {
        let work = try TemporaryDirectory("stream")
        let made = try run("/bin/sh", ["-c", "mkdir -p \"$1\" && head -c 6000000 /dev/urandom > \"$1/weights.bin\" && seq 1 150000 > \"$1/notes.txt\"",
                                       "sh", work.file("payload")])
        #expect(made.status == 0, "\(made.stderr)")
        let inputs = Inputs(fixture: try Fixture(), work: work)
        let built = try KilnBinary.build(inputs.arguments + ["--output", inputs.layout], environment: inputs.cold)
        return (inputs, built)
    }

    /// The proxy's log: METHOD PATH RANGE FRAMING per request.
    func proxyLog(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test func newLayersGoUpWhileTheyAreWrittenAndPullBackAsTheLayoutBuild() throws {
        let registry = try TestRegistry()
        let (inputs, built) = try inputs()
        let log = inputs.work.file("proxy.log")
        let proxy = try FlakyProxy(to: registry, marker: "/no-fault-here/", status: 500, count: 0, log: log)
        let push = try KilnBinary.run(["build"] + inputs.arguments + ["--output", "\(proxy.host)/ml/streamed:1"], environment: inputs.cold)
        #expect(push.status == 0, "\(push.stderr)")
        #expect(push.stdout.contains("uploaded \(built.layers.count + 1), mounted 0, present 0"), "\(push.stdout)")
        #expect(!push.stderr.contains("note: streaming"), "\(push.stderr)")

        let lines = try proxyLog(log)
        let patches = lines.filter { $0.hasPrefix("PATCH ") }
        #expect(patches.filter { $0.hasSuffix(" chunked") }.count == built.layers.count, "one streamed PATCH per new layer: \(lines)")
        #expect(patches.filter { $0.hasSuffix(" chunked") == false }.count == 1, "and the config, with its length: \(lines)")
        #expect(!lines.contains { $0.hasPrefix("HEAD ") && $0.contains("/blobs/") && !$0.contains(built.configDigest) },
                "a streamed layer is not looked for again: \(lines)")
        #expect(lines.last?.hasPrefix("PUT /v2/ml/streamed/manifests/1 ") == true, "the manifest goes last: \(lines)")

        let inspect = try run("skopeo", ["inspect", "--tls-verify=false", "docker://\(registry.host)/ml/streamed:1"])
        let report = try JSONDecoder().decode(SkopeoInspect.self, from: Data(inspect.stdout.utf8))
        #expect(report.Digest == built.manifestDigest)
        #expect(report.Layers == built.layers.map(\.digest))
        let pull = try KilnBinary.run(["pull", "\(registry.host)/ml/streamed:1", "oci:\(inputs.work.file("pulled")):1"])
        #expect(pull.status == 0, "\(pull.stderr)")
        #expect(try KilnBinary.run(["diff", inputs.layout, "oci:\(inputs.work.file("pulled")):1"]).stdout == "no differences\n")
    }

    @Test func streamOffUploadsFromTheFilesOnly() throws {
        let registry = try TestRegistry()
        let (inputs, built) = try inputs()
        let log = inputs.work.file("proxy.log")
        let proxy = try FlakyProxy(to: registry, marker: "/no-fault-here/", status: 500, count: 0, log: log)
        let push = try KilnBinary.run(["build"] + inputs.arguments + ["--output", "\(proxy.host)/ml/files:1"], environment: inputs.cold.merging(["KILN_STREAM_PUSH": "0"]) { $1 })
        #expect(push.status == 0, "\(push.stderr)")
        #expect(push.stdout.contains("uploaded \(built.layers.count + 1), mounted 0, present 0"), "\(push.stdout)")
        let patches = try proxyLog(log).filter { $0.hasPrefix("PATCH ") }
        #expect(patches.count == built.layers.count + 1 && patches.allSatisfy { $0.hasSuffix(" length=") == false && $0.contains(" length=") },
                "\(patches)")
        let inspect = try run("skopeo", ["inspect", "--tls-verify=false", "docker://\(registry.host)/ml/files:1"])
        #expect(try JSONDecoder().decode(SkopeoInspect.self, from: Data(inspect.stdout.utf8)).Digest == built.manifestDigest)
    }

    @Test func bearerTokenIsInHandBeforeTheStreamStarts() throws {
        let password = "alice-pw-\(UUID().uuidString)"
        let tokens = try TokenServer(users: ["alice": (password, ["pull", "push"])])
        let registry = try TestRegistry(.token(tokens))
        let (inputs, built) = try inputs()
        let log = inputs.work.file("proxy.log")
        let proxy = try FlakyProxy(to: registry, marker: "/no-fault-here/", status: 500, count: 0, log: log)
        let environment = ["KILN_REGISTRY_USERNAME": "alice", "KILN_REGISTRY_PASSWORD": password]
        let push = try KilnBinary.run(["build"] + inputs.arguments + ["--output", "\(proxy.host)/ml/private:1"], environment: environment.merging(inputs.cold) { $1 })
        #expect(push.status == 0, "\(push.stderr)")
        #expect(push.stdout.contains("uploaded \(built.layers.count + 1), mounted 0, present 0"), "\(push.stdout)")
        #expect(!push.stderr.contains("note: streaming"), "\(push.stderr)")
        let patches = try proxyLog(log).filter { $0.hasPrefix("PATCH ") }
        #expect(patches.filter { $0.hasSuffix(" chunked") }.count == built.layers.count, "\(patches)")
        let answered = registry.requests().filter { $0.method == "PATCH" }
        #expect(answered.count == built.layers.count + 1 && answered.allSatisfy { $0.status == 202 }, "no PATCH met a 401: \(answered)")
        let inspect = try run("skopeo", ["inspect", "--tls-verify=false", "--creds", "alice:\(password)", "docker://\(registry.host)/ml/private:1"])
        #expect(try JSONDecoder().decode(SkopeoInspect.self, from: Data(inspect.stdout.utf8)).Digest == built.manifestDigest, "\(inspect.stderr)")
        for secret in tokens.issuedSecrets() + [password] {
            #expect(!push.stdout.contains(secret) && !push.stderr.contains(secret))
        }
    }

    /// A registry (in-process) that answers a PATCH of unknown length with `refusal`, or, when nil, drops
    /// the connection once that body starts; uploads with a length go through.
    func refusingRegistry(_ refusal: Int?) throws -> TestHTTPServer {
        let streamed: @Sendable (TestHTTPServer.Request) -> Bool = { $0.method == "PATCH" && $0.header("Content-Length") == nil }
        return try TestHTTPServer(cutBody: refusal == nil ? streamed : nil) { request in
            let location = ("Location", "/v2/ml/fallback/blobs/uploads/u1")
            switch request.method {
            case "HEAD": return .init(status: 404)
            case "POST": return .init(status: 202, headers: [location])
            case "PATCH" where streamed(request): return .init(status: refusal ?? 500, body: Data(#"{"errors":[{"code":"BLOB_UPLOAD_INVALID"}]}"#.utf8))
            case "PATCH": return .init(status: 202, headers: [location, ("Range", "0-\(request.bodyBytes - 1)")])
            case "PUT" where request.uri.contains("/blobs/"):
                let digest = request.uri.components(separatedBy: "digest=").last?.removingPercentEncoding ?? ""
                return .init(status: 201, headers: [("Docker-Content-Digest", digest)])
            case "PUT": return .init(status: 201)
            case "DELETE": return .init(status: 204)
            default: return .init(status: request.uri == "/v2/" ? 200 : 404)
            }
        }
    }

    @Test(arguments: [400, 416, 500, nil] as [Int?])
    func aRefusedOrCutStreamFallsBackToTheFile(refusal: Int?) throws {
        let (inputs, built) = try inputs()
        let server = try refusingRegistry(refusal)
        let push = try KilnBinary.run(["build"] + inputs.arguments + ["--output", "\(server.host)/ml/fallback:1"], environment: inputs.cold)
        #expect(push.status == 0, "\(push.stderr)")
        #expect(push.stdout.contains("uploaded \(built.layers.count + 1), mounted 0, present 0"), "\(push.stdout)")
        #expect(push.stderr.contains("note: streaming layer "), "the fallback is told: \(push.stderr)")
        let requests = server.requests
        let streamed = requests.filter { $0.method == "PATCH" && $0.header("Content-Length") == nil }
        #expect(streamed.count == built.layers.count, "each layer was streamed first: \(requests.map { "\($0.method) \($0.uri)" })")
        let fromFiles = requests.filter { $0.method == "PATCH" && $0.header("Content-Length") != nil }.map(\.bodyBytes)
        for layer in built.layers {
            #expect(fromFiles.contains(Int(layer.size)), "layer \(layer.digest) went up whole from its file")
            #expect(requests.contains { $0.method == "PUT" && ($0.uri.removingPercentEncoding ?? "").contains("digest=\(layer.digest)") })
        }
        #expect(requests.last.map { $0.method == "PUT" && $0.uri.hasPrefix("/v2/ml/fallback/manifests/1") } == true,
                "the manifest goes last: \(requests.map { "\($0.method) \($0.uri)" })")
    }
}
