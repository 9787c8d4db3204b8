import Foundation
import Testing
import TestSupport

/// Registries that lie or flood: each gives one `kiln: error:` line that names the registry, with bounded
/// memory, measured as the peak RSS of the kiln process (GNU time).
@Suite struct HostileServerTests {
    /// Runs kiln under /usr/bin/time; its stderr minus time's last line, and the peak RSS in KiB.
    static func measured(_ arguments: [String]) throws -> (status: Int32, stderr: String, peakKiB: Int) {
        let result = try run("/usr/bin/time", ["-f", "peak-rss-kib %M", KilnBinary.binary] + arguments)
        var lines = result.stderr.split(separator: "\n").map(String.init)
        let peak = lines.last.flatMap { $0.hasPrefix("peak-rss-kib ") ? Int($0.dropFirst(13)) : nil } ?? Int.max
        if peak != Int.max { lines.removeLast() }
        lines.removeAll { $0.hasPrefix("Command exited with non-zero status") }
        return (result.status, lines.joined(separator: "\n"), peak)
    }

    @Test func aManifestOverFourMiBIsRefusedInOneLine() throws {
        let huge = Data(#"{"schemaVersion": 2, "padding": ""#.utf8) + Data(repeating: UInt8(ascii: "a"), count: 64 << 20) + Data(#""}"#.utf8)
        let server = try TestHTTPServer { request in
            if request.uri == "/v2/" { return .init(status: 200) }
            return .init(status: 200, headers: [("Content-Type", "application/vnd.oci.image.manifest.v1+json")], body: huge)
        }
        let result = try Self.measured(["inspect", "\(server.host)/flood/model:1"])
        #expect(result.status == 1)
        #expect(result.stderr == "kiln: error: http://\(server.host)/v2/flood/model/manifests/1: the response is larger than 4194304 bytes", "\(result.stderr)")
        #expect(result.peakKiB < 200 * 1024, "peak RSS \(result.peakKiB) KiB for a 64 MiB answer")
    }

    @Test func aTokenAnswerOfSeveralMBIsRefusedInOneLine() throws {
        let server = try TestHTTPServer { request in
            if request.uri.hasPrefix("/token") {
                return .init(status: 200, headers: [("Content-Type", "application/json")],
                             body: Data(#"{"token": ""#.utf8) + Data(repeating: UInt8(ascii: "t"), count: 8 << 20) + Data(#""}"#.utf8))
            }
            return .init(status: 401, headers: [("WWW-Authenticate", #"Bearer realm="http://\#(request.header("Host") ?? "")/token",service="flood""#)])
        }
        let result = try Self.measured(["inspect", "\(server.host)/flood/model:1"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("kiln: error: ") && !result.stderr.contains("\n"), "\(result.stderr)")
        #expect(result.stderr.contains("larger than 1048576 bytes"), "\(result.stderr)")
        #expect(result.peakKiB < 200 * 1024)
    }

    @Test func aRedirectLoopIsOneLine() throws {
        let server = try TestHTTPServer { request in
            if request.uri == "/v2/" { return .init(status: 200) }
            return .init(status: 307, headers: [("Location", request.uri + "x")])
        }
        let result = try Self.measured(["inspect", "\(server.host)/loop/model:1"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("kiln: error: ") && !result.stderr.contains("\n"), "\(result.stderr)")
        #expect(result.stderr.contains(server.host), "names the registry: \(result.stderr)")
        #expect(server.requests.count < 50, "the loop is cut off")
    }

    @Test func aBlobWhoseBytesDoNotMatchItsDigestIsRefused() throws {
        let config = Data(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#.utf8)
        let configDigest = "sha256:" + sha256Hex(config)
        let manifest = Data(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\#(configDigest)","size":\#(config.count)},"layers":[]}"#.utf8)
        let server = try TestHTTPServer { request in
            if request.uri == "/v2/" { return .init(status: 200) }
            if request.uri.contains("/manifests/") {
                return .init(status: 200, headers: [("Content-Type", "application/vnd.oci.image.manifest.v1+json")], body: manifest)
            }
            // The right length, the wrong bytes.
            return .init(status: 200, body: Data(repeating: UInt8(ascii: "x"), count: config.count))
        }
        let out = try TemporaryDirectory("out")
        let result = try Self.measured(["pull", "\(server.host)/lies/model:1", "oci:\(out.file("img")):1"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("kiln: error: ") && !result.stderr.contains("\n"), "\(result.stderr)")
        #expect(result.stderr.contains("does not match") || result.stderr.contains("digest"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.file("img")))
    }
}

func sha256Hex(_ data: Data) -> String {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("hash-\(UUID().uuidString)")
    try? data.write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    let result = try? run("sha256sum", [file.path])
    return String(result?.stdout.prefix(64) ?? "")
}
