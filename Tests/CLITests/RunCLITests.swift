import Foundation
import OCI
import Testing
import TestSupport

/// `kiln run` end to end: images built by the real binary from busybox-static, run under the real runc.
@Suite(.serialized, .enabled(if: (try? which("runc")) != nil, "runc is not installed (apt-get install runc)"))
struct RunCLITests {
    /// A web root, and busybox with a `sh` link so httpd can run CGI scripts.
    struct Site {
        let directory: TemporaryDirectory
        let port: Int

        init() throws {
            directory = try TemporaryDirectory("run-site")
            port = try freePort()
            try directory.write("www/index.html", "<h1>kiln run</h1>\n")
            try directory.write("www/cgi-bin/score", """
            #!/bin/sh
            body=$(/bin/busybox head -c "$CONTENT_LENGTH")
            printf 'Content-Type: application/json\\r\\n\\r\\n'
            printf '{"method":"%s","type":"%s","echo":%s}' "$REQUEST_METHOD" "$CONTENT_TYPE" "$body"
            """, mode: 0o755)
            try directory.write("request.json", #"{"data": [[1, 2, 3]]}"#)
            try FileManager.default.createDirectory(atPath: directory.file("bin"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "/usr/bin/busybox", toPath: directory.file("bin/busybox"))
            try directory.symlink("bin/sh", to: "busybox")
        }

        /// `kiln build` over scratch with busybox, the site, `entrypoint` and extra arguments.
        func build(to output: String, entrypoint: [String]? = nil, _ extra: [String] = []) throws {
            let entry = entrypoint ?? ["/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:\(port)", "-h", "/www"]
            let json = String(decoding: try JSONEncoder().encode(entry), as: UTF8.self)
            _ = try KilnBinary.build(["--base", "scratch", "--add", "\(directory.file("bin")):/bin", "--add", "\(directory.file("www")):/www",
                                      "--entrypoint", json, "--output", output] + extra)
        }
    }

    /// Runs `kiln run` with TMPDIR inside `scratch`, so the test can see that the work directory goes away.
    func kilnRun(_ arguments: [String], scratch: TemporaryDirectory) throws -> ProcessResult {
        try KilnBinary.run(["run"] + arguments, environment: ["TMPDIR": scratch.path])
    }

    /// Processes whose command line contains `needle` (NUL-separated arguments).
    func processes(matching needle: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { Int($0) != nil }.compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let line = String(decoding: data, as: UTF8.self)
            return line.contains(needle) ? pid : nil
        }
    }

    @Test func runsAnOCILayoutAndPrintsTheStatus() throws {
        let site = try Site()
        let scratch = try TemporaryDirectory("run-tmp")
        let layout = site.directory.file("layout")
        try site.build(to: "oci:\(layout):1", ["--label", "org.kiln.route.liveness=\(site.port):/index.html"])
        let result = try kilnRun(["oci:\(layout):1", "--timeout", "30"], scratch: scratch)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "GET http://127.0.0.1:\(site.port)/index.html answered 200\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty)

        // --route overrides the label; a missing page still counts as an answer.
        let missing = try kilnRun(["oci:\(layout):1", "--route", "\(site.port):/nothing-here", "--json"], scratch: scratch)
        #expect(missing.status == 0, "\(missing.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(missing.stdout.utf8)) as? [String: Any]
        let ready = object?["ready"] as? [String: Any]
        #expect(ready?["status"] as? Int == 404)
        #expect(ready?["url"] as? String == "http://127.0.0.1:\(site.port)/nothing-here")
        #expect((object?["manifestDigest"] as? String)?.hasPrefix("sha256:") == true)
    }

    @Test func postsTheRequestToTheScoringRoute() throws {
        let site = try Site()
        let scratch = try TemporaryDirectory("run-tmp")
        let layout = site.directory.file("layout")
        try site.build(to: "oci:\(layout)", ["--label", "org.kiln.route.readiness=\(site.port):/",
                                             "--label", "org.kiln.route.scoring=\(site.port):/cgi-bin/score"])
        let result = try kilnRun(["oci:\(layout)", "--request", site.directory.file("request.json")], scratch: scratch)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == #"{"method":"POST","type":"application/json","echo":{"data": [[1, 2, 3]]}}"# + "\n")

        let json = try kilnRun(["oci:\(layout)", "--request", site.directory.file("request.json"), "--json",
                                "--scoring-route", "\(site.port):/cgi-bin/score?x=1"], scratch: scratch)
        #expect(json.status == 0, "\(json.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let scoring = object?["scoring"] as? [String: Any]
        #expect(scoring?["status"] as? Int == 200)
        #expect((scoring?["body"] as? String)?.contains(#""echo":{"data": [[1, 2, 3]]}"#) == true)
        #expect((object?["ready"] as? [String: Any])?["status"] as? Int != nil)

        // A scoring answer of 400 or more fails the run, after printing the body.
        let failing = try kilnRun(["oci:\(layout)", "--request", site.directory.file("request.json"),
                                   "--scoring-route", "\(site.port):/cgi-bin/absent"], scratch: scratch)
        #expect(failing.status != 0)
        #expect(failing.stderr.contains("kiln: error: POST http://127.0.0.1:\(site.port)/cgi-bin/absent: the server answered 404"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty)
    }

    @Test func aServerThatNeverAnswersTimesOutAndLeavesNothingBehind() throws {
        let site = try Site()
        let scratch = try TemporaryDirectory("run-tmp")
        let seconds = String(Int.random(in: 6000...9999))
        try site.build(to: "oci:\(site.directory.file("layout"))", entrypoint: ["/bin/busybox", "sleep", seconds], ["--expose", "\(site.port)"])
        let start = Date()
        let result = try kilnRun(["oci:\(site.directory.file("layout"))", "--timeout", "3"], scratch: scratch)
        #expect(result.status != 0)
        #expect(Date().timeIntervalSince(start) < 30)
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("kiln: error:") }
        #expect(errors == ["kiln: error: server did not answer GET http://127.0.0.1:\(site.port)/ within 3 s "
                           + "(last attempt: connection refused); last log lines: (no output)"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty)
        #expect(processes(matching: "sleep\0\(seconds)").isEmpty)
    }

    @Test func aProcessThatExitsAtOnceFailsFastWithItsLog() throws {
        let site = try Site()
        let scratch = try TemporaryDirectory("run-tmp")
        try site.build(to: "oci:\(site.directory.file("layout"))",
                       entrypoint: ["/bin/sh", "-c", "echo loading model; echo 'ImportError: no module named sklearn' >&2; exit 3"],
                       ["--label", "org.kiln.route.liveness=\(site.port):/"])
        let start = Date()
        let result = try kilnRun(["oci:\(site.directory.file("layout"))", "--timeout", "120"], scratch: scratch)
        #expect(result.status != 0)
        #expect(Date().timeIntervalSince(start) < 20)
        // runc copies the container's stdout and stderr through pipes of their own, so their order may differ.
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("kiln: error:") }
        #expect(errors.count == 1)
        let error = String(errors.first ?? "")
        #expect(error.hasPrefix("kiln: error: the container exited with status 3 before GET http://127.0.0.1:\(site.port)/ answered; last log lines: "))
        #expect(error.contains("loading model") && error.contains("ImportError: no module named sklearn"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty)
    }

    @Test func sigtermStopsTheContainerRemovesItsFilesAndExits143() throws {
        let site = try Site()
        let scratch = try TemporaryDirectory("run-tmp")
        let seconds = String(Int.random(in: 6000...9999))
        try site.build(to: "oci:\(site.directory.file("layout"))", entrypoint: ["/bin/busybox", "sleep", seconds], ["--expose", "\(site.port)"])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: KilnBinary.binary)
        process.arguments = ["run", "oci:\(site.directory.file("layout"))", "--timeout", "120"]
        process.environment = ProcessInfo.processInfo.environment.merging(["TMPDIR": scratch.path]) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        let logs = try TemporaryDirectory("run-logs")
        let stderr = try logs.write("stderr", "")
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderr))
        try process.run()

        // Wait for the container, and see it through runc's own state directory.
        var stateRoot: String?
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, processes(matching: "sleep\0\(seconds)").isEmpty { usleep(100_000) }
        for work in (try? FileManager.default.contentsOfDirectory(atPath: scratch.path)) ?? [] { stateRoot = scratch.file(work + "/state") }
        let root = try #require(stateRoot)
        let listed = try run("runc", ["--root", root, "list", "-q"])
        #expect(listed.stdout.hasPrefix("kiln-"), "\(listed.stdout) \(listed.stderr)")

        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 143, "128 + SIGTERM")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty)
        #expect(processes(matching: "sleep\0\(seconds)").isEmpty)
        #expect(try run("runc", ["--root", root, "list", "-q"]).stdout.isEmpty)
        #expect((try? String(contentsOfFile: stderr, encoding: .utf8))?.contains("interrupted") == true)
    }

    @Test func runsDockerArchivesAndRegistryImages() throws {
        let site = try Site()
        let scratch = try TemporaryDirectory("run-tmp")
        let registry = try TestRegistry()
        let label = ["--label", "org.kiln.route.liveness=\(site.port):/index.html"]
        try site.build(to: "docker-archive:\(site.directory.file("image.tar")):smoke/httpd:1", label)
        let archive = try kilnRun(["docker-archive:\(site.directory.file("image.tar"))", "--timeout", "30"], scratch: scratch)
        #expect(archive.status == 0, "\(archive.stderr)")
        #expect(archive.stdout.contains("answered 200"))

        try site.build(to: "\(registry.host)/smoke/httpd:1", label)
        let pulled = try kilnRun(["\(registry.host)/smoke/httpd:1", "--timeout", "30"], scratch: scratch)
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(pulled.stdout.contains("answered 200"))
        #expect(registry.requests().contains { $0.method == "GET" && $0.path.contains("/blobs/sha256:") && $0.status == 200 })
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty)
    }

    @Test func unrunnableImagesAreOneLineErrors() throws {
        let site = try Site()
        let scratch = try TemporaryDirectory("run-tmp")
        let nothing = try kilnRun(["scratch"], scratch: scratch)
        #expect(nothing.status != 0)
        #expect(nothing.stderr.hasPrefix("kiln: error: the image cannot be run: scratch is an empty image"))

        try site.build(to: "oci:\(site.directory.file("layout"))")
        let noRoute = try kilnRun(["oci:\(site.directory.file("layout"))"], scratch: scratch)
        #expect(noRoute.status != 0)
        #expect(noRoute.stderr.hasSuffix("give the route to probe (--route PORT:PATH)\n"), "\(noRoute.stderr)")
        let badRoute = try kilnRun(["oci:\(site.directory.file("layout"))", "--route", "5001"], scratch: scratch)
        #expect(badRoute.stderr.contains("kiln: error: --route '5001' must be PORT:PATH, such as 5001:/score"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty)
    }
}
