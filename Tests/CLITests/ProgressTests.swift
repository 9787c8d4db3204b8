import Foundation
import Testing
import TestSupport

/// Progress on stderr: live lines on a terminal (through a pty, made with `script`), plain lines on a pipe,
/// nothing but errors with `--quiet`; stdout keeps only the result.
@Suite struct ProgressTests {
    /// 100,000,000 bytes of base64 text: it goes through zlib (`slow`: ISA-L and stored blocks would be too quick
    /// to watch), so writing its layer takes a few seconds in a debug or a release build alike.
    static func model(_ work: TemporaryDirectory) throws -> String {
        let made = try run("/bin/sh", ["-c", "head -c 80000000 /dev/urandom | base64 -w 0 | head -c 100000000 > \"$1\"", "sh", work.file("weights.bin")])
        #expect(made.status == 0)
        return work.file("weights.bin")
    }

    static let slow = ["KILN_DEFLATE": "zlib"]

    @Test func plainLinesOnAPipeForTheLayerAndThePush() throws {
        let registry = try TestRegistry()
        let work = try TemporaryDirectory("progress-plain")
        let model = try Self.model(work)
        let result = try KilnBinary.run(["build", "--base", "scratch", "--model", "big:1=\(model)", "--output", "\(registry.host)/progress/model:1", "--json"],
                                        environment: Self.slow.merging(["KILN_PROGRESS_INTERVAL": "0.3"]) { $1 })
        #expect(result.status == 0, "\(result.stderr)")
        #expect((try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) != nil, "stdout is the JSON document alone: \(result.stdout)")
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(!result.stderr.contains("\u{1B}"), "no escape codes on a pipe")
        // While it runs: bytes done of the total, the rate and the time left.
        #expect(lines.contains { $0.hasPrefix("kiln: write layer 1/1 (model big:1): ") && $0.contains(" MiB / 95.4 MiB, ") && $0.contains(" MiB/s, ETA ") },
                "\(result.stderr)")
        // And one final line for it, with what it did.
        #expect(lines.contains { $0.hasPrefix("kiln: write layer 1/1 (model big:1): done, 95.4 MiB in ") && $0.hasSuffix("/s)") }, "\(result.stderr)")
        let pushes = lines.filter { $0.hasPrefix("kiln: push \(registry.host)/progress/model sha256:") }
        #expect(pushes.allSatisfy { $0.contains(": done, ") || $0.contains(" / ") }, "\(pushes)")
    }

    @Test func liveLinesOnATerminal() throws {
        let work = try TemporaryDirectory("progress-live")
        let model = try Self.model(work)
        let command = [KilnBinary.binary, "build", "--base", "scratch", "--model", "big:1=\(model)", "--output", "oci:\(work.file("img")):1"]
            .map { "'\($0)'" }.joined(separator: " ")
        let result = try run("script", ["-qfec", command, "/dev/null"], environment: Self.slow.merging(["TERM": "xterm"]) { $1 })
        #expect(result.status == 0, "\(result.stdout)")
        let screen = result.stdout
        // Redrawn in place: erase the line, move up, write it again, with a spinner and the rate.
        #expect(screen.contains("\u{1B}[1A\u{1B}[2K"), "\(screen.prefix(400))")
        #expect(screen.contains("write layer 1/1 (model big:1): ") && screen.contains(" MiB / 95.4 MiB, ") && screen.contains("ETA"))
        #expect(screen.contains { "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏".contains($0) })
        #expect(screen.contains("kiln: write layer 1/1 (model big:1): done, 95.4 MiB in "), "completion")
        #expect(screen.contains("built oci:\(work.file("img")):1"))
    }

    @Test func quietPrintsErrorsOnly() throws {
        let work = try TemporaryDirectory("progress-quiet")
        let model = try Self.model(work)
        let built = try KilnBinary.run(["build", "--quiet", "--base", "scratch", "--model", "big:1=\(model)", "--output", "oci:\(work.file("img")):1"],
                                       environment: Self.slow.merging(["KILN_PROGRESS_INTERVAL": "0.3"]) { $1 })
        #expect(built.status == 0 && built.stderr.isEmpty, "\(built.stderr)")
        let failed = try KilnBinary.run(["build", "-q", "--base", "scratch", "--model", "big:1=\(work.file("missing.bin"))", "--output", "oci:\(work.file("img2")):1"])
        #expect(failed.status == 1 && failed.stderr.hasPrefix("kiln: error: ") && failed.stderr.split(separator: "\n").count == 1, "\(failed.stderr)")
    }
}
