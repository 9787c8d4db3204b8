import Foundation
import Images
import Plan
@testable import Run
import Testing
import TestSupport

/// A process stand-in: running until `exit` is set.
final class FakeProcess: WatchedProcess, @unchecked Sendable {
    private let lock = NSLock()
    private var status: Int32?
    var exitStatus: Int32? { lock.withLock { status } }
    func exit(_ code: Int32) { lock.withLock { status = code } }
    func logTail(lines: Int) -> String { "Traceback (most recent call last): | ImportError: no module named azureml" }
}

@Suite struct ProbeTests {
    @Test func anyStatusCountsAsAnAnswer() async throws {
        let server = try TestHTTPServer { _ in .init(status: 503, body: Data("loading".utf8)) }
        let port = try #require(Int(server.host.split(separator: ":").last ?? ""))
        let probe = HTTPProbe()
        let answer = try await probe.waitForAnswer(Route(port: port, path: "/health"), timeout: 5, watching: FakeProcess())
        await probe.shutdown()
        #expect(answer.status == 503)
        #expect(answer.url == "http://127.0.0.1:\(port)/health")
    }

    @Test func redirectsAreNotFollowed() async throws {
        let server = try TestHTTPServer { _ in .init(status: 302, headers: [("Location", "http://192.0.2.1/elsewhere")]) }
        let port = try #require(Int(server.host.split(separator: ":").last ?? ""))
        let probe = HTTPProbe()
        let answer = try await probe.waitForAnswer(Route(port: port, path: "/"), timeout: 5, watching: FakeProcess())
        await probe.shutdown()
        #expect(answer.status == 302)
    }

    @Test func retriesUntilTheTimeoutAndReportsTheLog() async throws {
        let port = try freePort()
        let probe = HTTPProbe()
        let start = Date()
        let error = try await #require(throws: RunError.self) {
            try await probe.waitForAnswer(Route(port: port, path: "/"), timeout: 1, watching: FakeProcess())
        }
        let elapsed = Date().timeIntervalSince(start)
        await probe.shutdown()
        // Bounded by the timeout, with room for a loaded machine (the suite runs in parallel).
        #expect(elapsed < 10)
        #expect(error.description == "server did not answer GET http://127.0.0.1:\(port)/ within 1 s (last attempt: connection refused); "
                + "last log lines: Traceback (most recent call last): | ImportError: no module named azureml")
    }

    @Test func aProcessThatExitsEndsTheWaitAtOnce() async throws {
        let port = try freePort()
        let process = FakeProcess()
        let probe = HTTPProbe()
        let start = Date()
        Task { try await Task.sleep(for: .milliseconds(300)); process.exit(1) }
        let error = try await #require(throws: RunError.self) {
            try await probe.waitForAnswer(Route(port: port, path: "/"), timeout: 60, watching: process)
        }
        let elapsed = Date().timeIntervalSince(start)
        await probe.shutdown()
        #expect(elapsed < 30, "well before the 60 s timeout")
        #expect(error.description.hasPrefix("the container exited with status 1 before GET http://127.0.0.1:\(port)/ answered; last log lines: Traceback"))
    }

    @Test func postSendsJSONAndReturnsTheBody() async throws {
        let server = try TestHTTPServer { request in
            .init(status: 200, body: Data("{\"method\":\"\(request.method)\",\"type\":\"\(request.header("Content-Type") ?? "")\"}".utf8))
        }
        let port = try #require(Int(server.host.split(separator: ":").last ?? ""))
        let probe = HTTPProbe()
        let answer = try await probe.post(Data("{\"data\":[[1,2]]}".utf8), to: Route(port: port, path: "/score"), timeout: 5)
        await probe.shutdown()
        #expect(answer.status == 200)
        #expect(answer.body == "{\"method\":\"POST\",\"type\":\"application/json\"}")
        let refused = try freePort()
        let error = try await #require(throws: RunError.self) {
            let probe = HTTPProbe()
            defer { Task { await probe.shutdown() } }
            return try await probe.post(Data(), to: Route(port: refused, path: "/score"), timeout: 2)
        }
        #expect(error.description == "POST http://127.0.0.1:\(refused)/score: connection refused")
    }
}

@Suite struct RunSupportTests {
    @Test func missingRuncIsOneActionableLine() throws {
        let error = try #require(throws: RunError.self) { try Runc.locate(path: "/nonexistent", fallbacks: []) }
        #expect(error.description == "runc not found on PATH: install it (apt-get install runc)")
    }

    @Test func logTailKeepsTheLastLines() throws {
        let directory = try TemporaryDirectory("run-log")
        let path = try directory.write("log", (1...30).map { "line \($0)" }.joined(separator: "\n") + "\n\n")
        #expect(Container.tail(of: path, lines: 3) == "line 28 | line 29 | line 30")
        #expect(Container.tail(of: directory.file("none"), lines: 3) == "(no output)")
    }

    @Test func cleanupRunsOnceLastAddedFirst() {
        let cleanup = Cleanup()
        let order = Recorder()
        cleanup.add { order.append("work directory") }
        cleanup.add { order.append("container") }
        cleanup.run()
        cleanup.run()
        #expect(order.items == ["container", "work directory"])
        cleanup.add { order.append("late") }
        #expect(order.items == ["container", "work directory", "late"])
    }

    @Test func treeRemovalOpensUpReadOnlyDirectoriesAndLeavesLinkTargets() throws {
        let directory = try TemporaryDirectory("run-remove")
        let outside = try TemporaryDirectory("run-remove-outside")
        try outside.write("keep", "k")
        try directory.write("work/ro/file", "f")
        try directory.symlink("work/ro/out", to: outside.path)
        chmod(directory.file("work/ro"), 0o555)
        try TreeRemoval.remove(path: directory.file("work"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("work")))
        #expect(FileManager.default.fileExists(atPath: outside.file("keep")))
    }
}

final class Recorder: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    var items: [String] { lock.withLock { stored } }
    func append(_ item: String) { lock.withLock { stored.append(item) } }
}
