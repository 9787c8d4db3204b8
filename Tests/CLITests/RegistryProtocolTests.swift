import Foundation
import OCI
import Testing
import TestSupport

/// Protocol details against a real distribution 2.8.2: tag pages, `--tag auto`, chunked uploads, Range
/// resume, a registry killed mid-push, TLS with a custom CA, multi-platform indexes, and (against an
/// in-process server) redirects that must not carry Authorization.
@Suite(.serialized) struct RegistryProtocolTests {
    struct SkopeoInspect: Decodable { var Digest: String; var Layers: [String] }

    /// An image with one incompressible layer of `bytes`, in `out/layout:v1`.
    func bigImage(_ out: TemporaryDirectory, bytes: Int) throws -> KilnBinary.BuildOutput {
        var data = Data(count: bytes)
        data.withUnsafeMutableBytes { buffer in
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            for index in 0..<buffer.count {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                buffer[index] = UInt8(truncatingIfNeeded: state)
            }
        }
        try out.write("payload/model.bin", data)
        return try KilnBinary.build(["--base", "scratch", "--add", "\(out.file("payload")):/models", "--output", "oci:\(out.file("layout")):v1"])
    }

    @Test func tagsFollowLinkPagesAndAutoTagNumbersImages() throws {
        let registry = try TestRegistry()
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        _ = try KilnBinary.build(fixture.standardArguments + ["--output", "oci:\(out.file("layout")):v1"])
        let layout = "oci:\(out.file("layout")):v1"
        let push = try KilnBinary.run(["push", layout, "\(registry.host)/ml/app", "--tag", "latest", "--tag", "7", "--tag", "b", "--tag", "a", "--tag", "10"])
        #expect(push.status == 0, "\(push.stderr)")
        // distribution 2.8.2 ignores `n` and sends every tag at once; that is one page.
        let paged = try KilnBinary.run(["tags", "\(registry.host)/ml/app", "--page-size", "2"])
        #expect(paged.stdout == "10\n7\na\nb\nlatest\n", "\(paged.stderr)")
        #expect(try KilnBinary.run(["tags", "\(registry.host)/ml/app"]).stdout == paged.stdout)

        let auto = try KilnBinary.run(["push", layout, "\(registry.host)/ml/app", "--tag", "auto"])
        #expect(auto.stdout.hasPrefix("pushed \(registry.host)/ml/app:11 "), "\(auto.stdout)\(auto.stderr)")
        let fresh = try KilnBinary.run(["push", layout, "\(registry.host)/ml/new", "--tag", "auto", "--tag", "latest"])
        #expect(fresh.stdout.hasPrefix("pushed \(registry.host)/ml/new:1,latest "), "\(fresh.stdout)\(fresh.stderr)")
        let built = try KilnBinary.run(["build"] + fixture.standardArguments + ["--output", "\(registry.host)/ml/new", "--tag", "auto"])
        #expect(built.stdout.hasPrefix("pushed \(registry.host)/ml/new:2 "), "\(built.stdout)\(built.stderr)")
        let missing = try KilnBinary.run(["tags", "\(registry.host)/no/such"])
        #expect(missing.status != 0 && missing.stderr == "kiln: error: not found: repository \(registry.host)/no/such\n")
    }

    @Test func tagPagesFollowLinkHeadersAndStopOnALoop() throws {
        let all = (1...7).map { "v\($0)" }
        let server = try TestHTTPServer { request in
            guard request.uri.hasPrefix("/v2/ml/app/tags/list") else { return .init(status: request.uri == "/v2/" ? 200 : 404) }
            let query = URLComponents(string: request.uri)?.queryItems ?? []
            let n = query.first { $0.name == "n" }?.value.flatMap(Int.init) ?? 100
            let last = query.first { $0.name == "last" }?.value
            let start = last.flatMap { all.firstIndex(of: $0).map { $0 + 1 } } ?? 0
            let page = Array(all[start..<min(all.count, start + n)])
            var headers = [("Content-Type", "application/json")]
            if let end = page.last, end != all.last {
                headers.append(("Link", "</v2/ml/app/tags/list?n=\(n)&last=\(end)>; rel=\"next\""))
            }
            return .init(status: 200, headers: headers, body: Data(#"{"name":"ml/app","tags":[\#(page.map { "\"\($0)\"" }.joined(separator: ","))]}"#.utf8))
        }
        let paged = try KilnBinary.run(["tags", "\(server.host)/ml/app", "--page-size", "3"])
        #expect(paged.stdout == all.joined(separator: "\n") + "\n", "\(paged.stderr)")
        #expect(server.requests.filter { $0.uri.contains("/tags/list") }.count == 3)

        // A server whose Link points back at the same page ends the walk instead of looping.
        let looping = try TestHTTPServer { request in
            guard request.uri.hasPrefix("/v2/ml/app/tags/list") else { return .init(status: 200) }
            return .init(status: 200, headers: [("Link", "</v2/ml/app/tags/list?n=2>; rel=\"next\"")], body: Data(#"{"tags":["a","b"]}"#.utf8))
        }
        let loop = try KilnBinary.run(["tags", "\(looping.host)/ml/app", "--page-size", "2"])
        #expect(loop.stdout == "a\nb\n" && loop.status == 0, "\(loop.stderr)")
        #expect(looping.requests.filter { $0.uri.contains("/tags/list") }.count <= 2)
    }

    @Test func chunkedUploadUsesContentRangePieces() throws {
        let registry = try TestRegistry()
        let out = try TemporaryDirectory("out")
        let built = try bigImage(out, bytes: 600_000)
        let push = try KilnBinary.run(["push", "oci:\(out.file("layout")):v1", "\(registry.host)/ml/chunked:1", "--chunk-size", "131072"])
        #expect(push.status == 0, "\(push.stderr)")
        #expect(registry.requests().filter { $0.method == "PATCH" && $0.status == 202 }.count >= 5, "600 kB in 128 KiB pieces")
        let copy = try run("skopeo", ["copy", "--src-tls-verify=false", "docker://\(registry.host)/ml/chunked:1", "oci:\(out.file("back")):1"])
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(try KilnBinary.run(["diff", "oci:\(out.file("layout")):v1", "oci:\(out.file("back")):1"]).stdout == "no differences\n")
        let inspect = try run("skopeo", ["inspect", "--tls-verify=false", "docker://\(registry.host)/ml/chunked:1"])
        #expect(try JSONDecoder().decode(SkopeoInspect.self, from: Data(inspect.stdout.utf8)).Digest == built.manifestDigest)
        let zero = try KilnBinary.run(["push", "oci:\(out.file("layout")):v1", "\(registry.host)/ml/chunked:2", "--chunk-size", "0"])
        #expect(zero.stderr == "kiln: error: --chunk-size must be a positive number of bytes\n")
    }

    @Test func chunksRespectTheRegistrysMinimumChunkLength() throws {
        let out = try TemporaryDirectory("out")
        let built = try bigImage(out, bytes: 700_000)
        let layerSize = try #require(built.layers.first?.size)
        // A registry that asks for chunks of at least 300,000 bytes (OCI-Chunk-Min-Length).
        let server = try TestHTTPServer { request in
            switch (request.method, request.uri) {
            case ("HEAD", _): return .init(status: 404)
            case ("POST", _): return .init(status: 202, headers: [("Location", "/v2/ml/min/blobs/uploads/u1"), ("OCI-Chunk-Min-Length", "300000")])
            case ("PATCH", _): return .init(status: 202, headers: [("Location", "/v2/ml/min/blobs/uploads/u1")])
            case ("PUT", let uri) where uri.contains("digest="):
                let digest = uri.components(separatedBy: "digest=").last?.removingPercentEncoding ?? ""
                return .init(status: 201, headers: [("Docker-Content-Digest", digest)])
            case ("PUT", _): return .init(status: 201)
            default: return .init(status: 200)
            }
        }
        let push = try KilnBinary.run(["push", "oci:\(out.file("layout")):v1", "\(server.host)/ml/min:1", "--chunk-size", "65536"])
        #expect(push.status == 0, "\(push.stderr)")
        let ranges = server.requests.filter { $0.method == "PATCH" }.compactMap { $0.header("Content-Range") }
        var expected: [String] = []
        var offset: Int64 = 0
        while offset < layerSize {
            let end = min(offset + 300_000, layerSize) - 1
            expected.append("\(offset)-\(end)")
            offset = end + 1
        }
        #expect(ranges == expected, "chunks are 300,000 bytes, not 65,536: \(ranges)")
    }

    @Test func blobDownloadResumesWithRangeAfterACutConnection() throws {
        let registry = try TestRegistry()
        let out = try TemporaryDirectory("out")
        let built = try bigImage(out, bytes: 2_000_000)
        #expect(try KilnBinary.run(["push", "oci:\(out.file("layout")):v1", "\(registry.host)/ml/big:1"]).status == 0)
        let layer = try #require(built.layers.first?.digest)
        let log = out.file("proxy.log")
        let proxy = try FlakyProxy(to: registry, marker: "/blobs/\(layer)", status: 0, count: 1, log: log)
        let pull = try KilnBinary.run(["pull", "\(proxy.host)/ml/big:1", "oci:\(out.file("pulled")):1"])
        #expect(pull.status == 0, "\(pull.stderr)")
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").filter { $0.contains(layer) }
        #expect(lines.count == 2, "\(lines)")
        #expect(lines.last?.contains(" bytes=") == true && lines.last?.contains(" bytes=0- ") == false, "resumed mid-blob: \(lines)")
        #expect(try KilnBinary.run(["diff", "oci:\(out.file("layout")):v1", "oci:\(out.file("pulled")):1"]).stdout == "no differences\n")
    }

    @Test func registryKilledMidPushThenPushAgainCompletes() throws {
        let registry = try TestRegistry()
        let out = try TemporaryDirectory("out")
        let built = try bigImage(out, bytes: 8_000_000)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: KilnBinary.binary)
        process.arguments = ["push", "oci:\(out.file("layout")):v1", "\(registry.host)/ml/killed:1", "--chunk-size", "65536"]
        let stderr = out.file("stderr")
        _ = FileManager.default.createFile(atPath: stderr, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderr))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while registry.requests().filter({ $0.method == "PATCH" }).count < 3, Date() < deadline, process.isRunning { usleep(5_000) }
        registry.stop()
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        let message = try String(contentsOfFile: stderr, encoding: .utf8)
        #expect(message.hasPrefix("kiln: error: cannot reach http://\(registry.host)/v2/ml/killed/blobs/uploads/"), "\(message)")
        #expect(!message.contains("_state="), "upload state is redacted")
        try registry.start()
        let noManifest = try run("skopeo", ["inspect", "--tls-verify=false", "docker://\(registry.host)/ml/killed:1"])
        #expect(noManifest.status != 0, "a failed push leaves no tag")
        let again = try KilnBinary.run(["push", "oci:\(out.file("layout")):v1", "\(registry.host)/ml/killed:1"])
        #expect(again.status == 0, "\(again.stderr)")
        let copy = try run("skopeo", ["copy", "--src-tls-verify=false", "docker://\(registry.host)/ml/killed:1", "oci:\(out.file("back")):1"])
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(try KilnBinary.run(["diff", "oci:\(out.file("layout")):v1", "oci:\(out.file("back")):1"]).stdout == "no differences\n")
        let inspect = try run("skopeo", ["inspect", "--tls-verify=false", "docker://\(registry.host)/ml/killed:1"])
        #expect(try JSONDecoder().decode(SkopeoInspect.self, from: Data(inspect.stdout.utf8)).Digest == built.manifestDigest)
    }

    @Test func redirectToAnotherHostCarriesNoAuthorization() throws {
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        let built = try KilnBinary.build(fixture.standardArguments + ["--output", "oci:\(out.file("layout")):v1"])
        let blobs = out.file("layout/blobs/sha256")
        let signature = "sig=SAS-\(UUID().uuidString)"
        let password = "redirect-pw-\(UUID().uuidString)"
        // "Storage": another loopback address, as a registry's blob store is another host.
        let storage = try TestHTTPServer(address: "127.0.0.2") { request in
            let hex = request.uri.split(separator: "/").last?.split(separator: "?").first.map(String.init) ?? ""
            guard let data = FileManager.default.contents(atPath: "\(blobs)/\(hex)") else { return .init(status: 404) }
            return .init(status: 200, headers: [("Content-Type", "application/octet-stream")], body: data)
        }
        let manifest = try Data(contentsOf: URL(fileURLWithPath: "\(blobs)/\(built.manifestDigest.dropFirst(7))"))
        let storageHost = storage.host
        let registry = try TestHTTPServer { request in
            guard request.header("Authorization") == "Basic " + Data("bot:\(password)".utf8).base64EncodedString() else {
                return .init(status: 401, headers: [("WWW-Authenticate", #"Basic realm="test""#)])
            }
            if request.uri.contains("/manifests/") {
                return .init(status: 200, headers: [("Content-Type", MediaType.ociManifest)], body: manifest)
            }
            if let range = request.uri.range(of: "/blobs/sha256:") {
                let hex = request.uri[range.upperBound...]
                return .init(status: 307, headers: [("Location", "http://\(storageHost)/storage/\(hex)?\(signature)")])
            }
            return .init(status: request.uri == "/v2/" ? 200 : 404)
        }
        let pull = try TestSupport.run(KilnBinary.binary, ["pull", "\(registry.host)/ml/app:1", "oci:\(out.file("pulled")):1", "--verbose",
                                                     "--username", "bot", "--password-stdin"], stdin: password + "\n")
        #expect(pull.status == 0, "\(pull.stderr)")
        #expect(storage.requests.count == 1 + built.layers.count, "config and layers came from storage")
        #expect(storage.requests.allSatisfy { $0.header("Authorization") == nil }, "\(storage.requests.map(\.headers))")
        #expect(registry.requests.filter { $0.uri.contains("/blobs/") }.allSatisfy { $0.header("Authorization") != nil })
        #expect(!pull.stderr.contains(signature) && !pull.stdout.contains(signature))
        #expect(!pull.stderr.contains(password) && !pull.stderr.contains(Data("bot:\(password)".utf8).base64EncodedString()))
        #expect(try KilnBinary.run(["diff", "oci:\(out.file("layout")):v1", "oci:\(out.file("pulled")):1"]).stdout == "no differences\n")
    }

    @Test func tlsRegistryNeedsItsCAAndGetsItFromCAFileOrSSLCertFile() throws {
        let certs = try TemporaryDirectory("certs")
        let made = try run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                       "-keyout", certs.file("tls.key"), "-out", certs.file("tls.crt"), "-days", "30",
                                       "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        #expect(made.status == 0, "\(made.stderr)")
        let registry = try TestRegistry(tls: (certs.file("tls.crt"), certs.file("tls.key")))
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        let built = try KilnBinary.build(fixture.standardArguments + ["--output", "oci:\(out.file("layout")):v1"])
        let untrusted = try KilnBinary.run(["push", "oci:\(out.file("layout")):v1", "\(registry.host)/ml/tls:1"])
        #expect(untrusted.status != 0)
        #expect(untrusted.stderr.hasPrefix("kiln: error: cannot reach https://\(registry.host)/"), "TLS is verified, never skipped: \(untrusted.stderr)")
        #expect(untrusted.stderr.hasSuffix("the TLS certificate is not trusted; trust its CA (a CA file in the registry settings, or SSL_CERT_FILE) (--ca-file)\n"))
        #expect(untrusted.stderr.split(separator: "\n").count == 1)
        let trusted = try KilnBinary.run(["push", "oci:\(out.file("layout")):v1", "\(registry.host)/ml/tls:1", "--ca-file", certs.file("tls.crt")])
        #expect(trusted.status == 0, "\(trusted.stderr)")
        let environment = try KilnBinary.run(["pull", "\(registry.host)/ml/tls:1", "oci:\(out.file("pulled")):1"], environment: ["SSL_CERT_FILE": certs.file("tls.crt")])
        #expect(environment.status == 0, "\(environment.stderr)")
        let missing = try KilnBinary.run(["pull", "\(registry.host)/ml/tls:1", "oci:\(out.file("x")):1", "--ca-file", certs.file("nope.crt")])
        #expect(missing.stderr == "kiln: error: --ca-file '\(certs.file("nope.crt"))': no such readable file\n")
        #expect(try KilnBinary.run(["diff", "oci:\(out.file("layout")):v1", "oci:\(out.file("pulled")):1"]).stdout == "no differences\n")
        _ = built
    }

    /// Builds linux/amd64 and linux/arm64 images into one layout and adds an index tagged `multi`.
    func multiPlatformLayout(_ out: TemporaryDirectory, fixture: Fixture) throws -> (amd: KilnBinary.BuildOutput, arm: KilnBinary.BuildOutput) {
        let path = out.file("multi")
        let amd = try KilnBinary.build(fixture.standardArguments + ["--platform", "linux/amd64", "--output", "oci:\(path):amd"])
        let arm = try KilnBinary.build(fixture.standardArguments + ["--platform", "linux/arm64", "--output", "oci:\(path):arm"])
        func descriptor(_ built: KilnBinary.BuildOutput, _ architecture: String) throws -> [String: Any] {
            let size = try FileManager.default.attributesOfItem(atPath: "\(path)/blobs/sha256/\(built.manifestDigest.dropFirst(7))")[.size] as? Int ?? 0
            return ["mediaType": MediaType.ociManifest, "digest": built.manifestDigest, "size": size,
                    "platform": ["os": "linux", "architecture": architecture].merging(architecture == "arm64" ? ["variant": "v8"] : [:]) { $1 }]
        }
        let index = try JSONSerialization.data(withJSONObject: ["schemaVersion": 2, "mediaType": MediaType.ociIndex,
                                                                "manifests": [try descriptor(amd, "amd64"), try descriptor(arm, "arm64")]],
                                               options: [.sortedKeys])
        let digest = Digest.sha256(of: index)
        try index.write(to: URL(fileURLWithPath: "\(path)/blobs/sha256/\(digest.encoded)"))
        let indexJSON = URL(fileURLWithPath: "\(path)/index.json")
        var top = try JSONSerialization.jsonObject(with: Data(contentsOf: indexJSON)) as? [String: Any] ?? [:]
        var entries = top["manifests"] as? [[String: Any]] ?? []
        entries.append(["mediaType": MediaType.ociIndex, "digest": digest.description, "size": index.count,
                        "annotations": ["org.opencontainers.image.ref.name": "multi"]])
        top["manifests"] = entries
        try JSONSerialization.data(withJSONObject: top).write(to: indexJSON)
        return (amd, arm)
    }

    @Test func multiPlatformIndexesPushChildrenFirstAndPullByPlatform() throws {
        let registry = try TestRegistry()
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        let (amd, arm) = try multiPlatformLayout(out, fixture: fixture)
        #expect(amd.manifestDigest != arm.manifestDigest)
        let layout = out.file("multi")

        // kiln pushes the index: children first, then the index; skopeo reads it back.
        let push = try KilnBinary.run(["push", "oci:\(layout):multi", "\(registry.host)/ml/multi:1"])
        #expect(push.status == 0, "\(push.stderr)")
        let putOrder = registry.requests().filter { $0.method == "PUT" && $0.path.contains("/manifests/") }.map(\.path)
        #expect(putOrder.count == 3 && putOrder.last == "/v2/ml/multi/manifests/1", "\(putOrder)")
        let raw = try run("skopeo", ["inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/ml/multi:1"])
        #expect(raw.stdout.contains(arm.manifestDigest) && raw.stdout.contains(amd.manifestDigest), "\(raw.stdout)\(raw.stderr)")
        for (architecture, built) in [("arm64", arm), ("amd64", amd)] {
            let config = try run("skopeo", ["inspect", "--config", "--tls-verify=false", "--override-os", "linux", "--override-arch", architecture,
                                            "docker://\(registry.host)/ml/multi:1"])
            #expect(config.stdout.contains("\"architecture\": \"\(architecture)\""), "\(config.stdout)\(config.stderr)")
            let child = try run("skopeo", ["inspect", "--tls-verify=false", "docker://\(registry.host)/ml/multi@\(built.manifestDigest)"])
            #expect(child.status == 0, "\(child.stderr)")
        }
        let copyAll = try run("skopeo", ["copy", "--all", "--src-tls-verify=false", "docker://\(registry.host)/ml/multi:1", "oci:\(out.file("all")):1"])
        #expect(copyAll.status == 0, "\(copyAll.stderr)")
        // Again: the children are found by a manifest HEAD, so only the index is PUT.
        let before = registry.requests().count
        let again = try KilnBinary.run(["push", "oci:\(layout):multi", "\(registry.host)/ml/multi:2"])
        #expect(again.status == 0, "\(again.stderr)")
        let second = registry.requests().dropFirst(before)
        #expect(second.filter { $0.method == "HEAD" && $0.path.contains("/manifests/sha256:") }.count == 2)
        #expect(second.filter { $0.method == "PUT" }.map(\.path) == ["/v2/ml/multi/manifests/2"], "\(second)")
        #expect(!second.contains { $0.path.contains("/blobs/") })

        // kiln pulls, by platform, an index that skopeo pushed.
        let skopeo = try run("skopeo", ["copy", "--all", "--dest-tls-verify=false", "oci:\(layout):multi", "docker://\(registry.host)/ml/from-skopeo:1"])
        #expect(skopeo.status == 0, "\(skopeo.stderr)")
        for (platform, tag) in [("linux/arm64", "arm"), ("linux/amd64", "amd")] {
            let pull = try KilnBinary.run(["pull", "\(registry.host)/ml/from-skopeo:1", "oci:\(out.file("pulled-\(tag)")):1", "--platform", platform])
            #expect(pull.status == 0, "\(pull.stderr)")
            #expect(try KilnBinary.run(["diff", "oci:\(layout):\(tag)", "oci:\(out.file("pulled-\(tag)")):1"]).stdout == "no differences\n")
        }
        // A Docker manifest list as well (skopeo converts the index with --format v2s2).
        let list = try run("skopeo", ["copy", "--all", "--format", "v2s2", "--dest-tls-verify=false", "oci:\(layout):multi",
                                      "docker://\(registry.host)/ml/list:1"])
        #expect(list.status == 0, "\(list.stderr)")
        let fromList = try KilnBinary.run(["pull", "\(registry.host)/ml/list:1", "oci:\(out.file("from-list")):1", "--platform", "linux/arm64"])
        #expect(fromList.status == 0, "\(fromList.stderr)")
        #expect(try KilnBinary.run(["diff", "oci:\(layout):arm", "oci:\(out.file("from-list")):1"]).stdout == "no differences\n")
        let none = try KilnBinary.run(["pull", "\(registry.host)/ml/multi:1", "oci:\(out.file("s390x")):1", "--platform", "linux/s390x"])
        #expect(none.status != 0)
        #expect(none.stderr.contains("no entry for linux/s390x (available: linux/amd64, linux/arm64/v8)"), "\(none.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.file("s390x")))
    }
}
