import Foundation
import Testing
import TestSupport

/// Every leaf command's help has examples, the completion scripts generate, and `--json` on every
/// command prints exactly one JSON document on stdout (and none on stderr).
@Suite struct HelpAndJSONTests {
    static let leaves: [[String]] = [["build"], ["pull"], ["push"], ["tags"], ["inspect"], ["diff"], ["sbom"], ["run"],
                                     ["env", "solve"], ["env", "install"], ["pip", "resolve"], ["pip", "install"]]

    /// The one JSON document on stdout of a successful `result`, checked: nothing after it, none on stderr.
    @discardableResult
    static func document(_ result: ProcessResult, _ command: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Any {
        #expect(result.status == 0, "\(command): \(result.stderr)", sourceLocation: sourceLocation)
        // JSONSerialization refuses anything after the first value, so this is exactly one document.
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
        #expect(object is [String: Any] || object is [Any], "\(command): \(result.stdout)", sourceLocation: sourceLocation)
        expectNoJSON(in: result.stderr, command, sourceLocation: sourceLocation)
        return object
    }

    /// stderr holds lines for people: no JSON document, nor the start or end of a pretty-printed one.
    static func expectNoJSON(in stderr: String, _ command: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let lines = stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(!lines.contains { ["{", "}", "[", "]"].contains($0) || ($0.hasPrefix("{\"") && $0.hasSuffix("}")) },
                "\(command): \(stderr)", sourceLocation: sourceLocation)
        #expect((try? JSONSerialization.jsonObject(with: Data(stderr.utf8))) == nil, "\(command): \(stderr)", sourceLocation: sourceLocation)
    }

    static func object(_ value: Any) -> [String: Any] { value as? [String: Any] ?? [:] }

    // MARK: help and completions

    @Test(arguments: leaves) func helpShowsExamples(_ command: [String]) throws {
        let result = try KilnBinary.run(command + ["--help"])
        #expect(result.status == 0, "\(result.stderr)")
        let examples = try #require(result.stdout.components(separatedBy: "EXAMPLES:\n").dropFirst().first, "\(result.stdout)")
        // 2–4 example lines, each a kiln command line of this very command.
        let lines = examples.split(separator: "\n").prefix { $0.hasPrefix("  ") }.filter { $0.hasPrefix("  kiln ") }
        #expect((2...4).contains(lines.count), "\(examples)")
        #expect(lines.allSatisfy { $0.hasPrefix("  kiln \(command.joined(separator: " ")) ") }, "\(lines)")
        #expect(result.stdout.contains("--json"), "every leaf command takes --json")
    }

    @Test(arguments: ["bash", "zsh", "fish"]) func completionScriptGenerates(_ shell: String) throws {
        let result = try KilnBinary.run(["--generate-completion-script", shell])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.count > 1000 && result.stdout.contains("kiln"))
        for name in ["build", "pull", "push", "tags", "inspect", "diff", "sbom", "run", "env", "pip", "solve", "resolve"] {
            #expect(result.stdout.contains(name), "\(shell) completes \(name)")
        }
        if shell == "bash" {
            let work = try TemporaryDirectory("completion")
            let file = try work.write("kiln.bash", result.stdout)
            let checked = try run("/bin/bash", ["-n", file])
            #expect(checked.status == 0, "\(checked.stderr)")
        }
    }

    // MARK: --json

    @Test func imageCommandsPrintOneDocument() throws {
        let root = try TemporaryDirectory("json-images")
        try root.write("in/a.txt", "a")
        try root.write("in2/b.txt", "b")
        let image = "oci:\(root.file("img")):1"
        let built = Self.object(try Self.document(KilnBinary.run(["build", "--base", "scratch", "--add", "\(root.file("in")):/data",
                                                                  "--output", image, "--json"]), "build"))
        #expect((built["manifestDigest"] as? String)?.hasPrefix("sha256:") == true)
        _ = try KilnBinary.build(["--base", "scratch", "--add", "\(root.file("in2")):/data", "--output", "oci:\(root.file("img")):2"])

        let inspected = Self.object(try Self.document(KilnBinary.run(["inspect", image, "--json"]), "inspect"))
        #expect(!inspected.isEmpty)
        let plain = try KilnBinary.run(["inspect", image])
        #expect(plain.stdout == (try KilnBinary.run(["inspect", image, "--json"])).stdout, "--json changes nothing for inspect")
        try Self.document(KilnBinary.run(["diff", image, "oci:\(root.file("img")):2", "--json"]), "diff")

        let registry = try TestRegistry()
        let pushed = Self.object(try Self.document(KilnBinary.run(["push", image, "\(registry.host)/help/app:1", "--json"]), "push"))
        #expect(pushed["manifestDigest"] as? String == built["manifestDigest"] as? String)
        let tags = Self.object(try Self.document(KilnBinary.run(["tags", "\(registry.host)/help/app", "--json"]), "tags"))
        #expect(tags["tags"] as? [String] == ["1"])
        try Self.document(KilnBinary.run(["pull", "\(registry.host)/help/app:1", "oci:\(root.file("pulled")):1", "--json"]), "pull")
        // A build pushed to a registry prints its JSON only, not the `pushed …` line.
        try Self.document(KilnBinary.run(["build", "--base", "scratch", "--add", "\(root.file("in")):/data",
                                          "--output", "\(registry.host)/help/app", "--tag", "auto", "--json"]), "build to a registry")
    }

    @Test func pipCommandsPrintOneDocument() throws {
        let index = try PipIndex(directories: [try syntheticWheels() + "/good"])
        let work = try TemporaryDirectory("json-pip")
        let requirements = try work.write("requirements.txt", "tool[fancy]\nalpha==1.0\n")
        let environment = ["KILN_CACHE_DIR": work.file("cache")]
        let flags = ["-r", requirements, "--python", "3.11", "--glibc", "2.28", "--index-url", index.url()]

        let resolved = Self.object(try Self.document(KilnBinary.run(["pip", "resolve"] + flags + ["--json"], environment: environment), "pip resolve"))
        let distributions = try #require(resolved["distributions"] as? [[String: Any]])
        let text = try KilnBinary.run(["pip", "resolve"] + flags, environment: environment)
        #expect(distributions.compactMap { $0["requirement"] as? String } == text.stdout.split(separator: "\n").map(String.init),
                "the same name==version list as the text")
        #expect(distributions.allSatisfy { ($0["sha256"] as? String)?.count == 64 && $0["installed"] as? Bool == false })

        let installed = Self.object(try Self.document(KilnBinary.run(["pip", "install"] + flags + ["--target", work.file("site"), "--json"],
                                                                     environment: environment), "pip install"))
        #expect(installed["target"] as? String == work.file("site"))
        #expect((installed["distributions"] as? [[String: Any]])?.count == distributions.count)
    }

    @Test func condaCommandsAndSBOMPrintOneDocument() throws {
        let channels = try condaFixtureChannels()
        let index = try PipIndex(directories: [try syntheticWheels() + "/good"])
        let work = try TemporaryDirectory("json-conda")
        let file = try condaPipEnvironment(in: work, channels: channels, index: index, pip: ["alpha==1.0"])
        let environment = ["KILN_CACHE_DIR": work.file("cache")]

        let solved = try Self.document(KilnBinary.run(["env", "solve", file, "--json"], environment: environment), "env solve")
        let records = try #require(solved as? [[String: Any]])
        #expect(records.contains { $0["name"] as? String == "hello" })

        let installed = Self.object(try Self.document(KilnBinary.run(["env", "install", file, "--prefix", work.file("env"),
                                                                      "--target-prefix", "/opt/env", "--json"], environment: environment), "env install"))
        #expect(installed["directory"] as? String == work.file("env"))
        #expect(installed["prefix"] as? String == "/opt/env")
        #expect((installed["packages"] as? [[String: Any]])?.count == records.count)
        #expect((installed["distributions"] as? [[String: Any]])?.first?["requirement"] as? String == "alpha==1.0")

        // An image with an environment has an SBOM; `sbom --json` prints the same SPDX document.
        _ = try KilnBinary.build(["--base", "scratch", "--conda-file", file, "--virtual-package", "__glibc=2.28",
                                  "--output", "oci:\(work.file("img")):1"], environment: environment)
        let sbom = Self.object(try Self.document(KilnBinary.run(["sbom", "oci:\(work.file("img")):1", "--json"]), "sbom"))
        #expect(sbom["spdxVersion"] as? String == "SPDX-2.3")
    }

    @Test(.enabled(if: (try? which("runc")) != nil, "runc is not installed (apt-get install runc)"))
    func runPrintsOneDocument() throws {
        let site = try RunCLITests.Site()
        let layout = site.directory.file("layout")
        try site.build(to: "oci:\(layout):1", ["--label", "org.kiln.route.liveness=\(site.port):/index.html"])
        let result = try KilnBinary.run(["run", "oci:\(layout):1", "--timeout", "30", "--json"])
        let object = Self.object(try Self.document(result, "run"))
        #expect(Self.object(object["ready"] as Any)["status"] as? Int == 200)
        #expect((object["manifestDigest"] as? String)?.hasPrefix("sha256:") == true)
    }

    /// With `--json`, an error is still one `kiln: error:` line on stderr, exit 1, and stdout stays empty.
    @Test func errorsLeaveStdoutEmpty() throws {
        let work = try TemporaryDirectory("json-errors")
        let missing = work.file("missing")
        let runs: [[String]] = [
            ["build", "--base", "scratch", "--add", "\(missing):/data", "--output", "oci:\(work.file("img"))", "--json"],
            ["inspect", "oci:\(missing)", "--json"],
            ["sbom", "oci:\(missing)", "--json"],
            ["diff", "oci:\(missing)", "oci:\(missing)", "--json"],
            ["run", "oci:\(missing)", "--json"],
            ["env", "solve", missing, "--json"],
            ["env", "install", missing, "--prefix", work.file("env"), "--json"],
            ["pip", "resolve", "-r", missing, "--json"],
            ["pip", "install", "-r", missing, "--target", work.file("site"), "--json"],
        ]
        for arguments in runs {
            let result = try KilnBinary.run(arguments)
            let command = arguments.prefix(2).joined(separator: " ")
            #expect(result.status == 1, "\(command)")
            #expect(result.stdout.isEmpty, "\(command): \(result.stdout)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines.first?.hasPrefix("kiln: error: ") == true, "\(command): \(result.stderr)")
        }
    }
}
