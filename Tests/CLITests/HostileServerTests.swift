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
}
