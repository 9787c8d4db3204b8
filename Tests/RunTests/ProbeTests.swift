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

/// Runs `body` with a probe that is shut down however `body` ends: a client dropped without shutdown
/// aborts the whole test process. The timeouts are generous, since only a failure waits for them: in
/// the full suite, CLI tests block the cooperative threads while their processes run, and an async
/// test here can wait a minute for a thread. How fast a real run ends is `RunCLITests`' to check.
func probing<T>(_ body: (HTTPProbe) async throws -> T) async throws -> T {
    let probe = HTTPProbe()
    do {
        let result = try await body(probe)
        await probe.shutdown()
        return result
    } catch {
        await probe.shutdown()
        throw error
    }
}

@Suite struct ProbeTests {
    @Test func anyStatusCountsAsAnAnswer() async throws {
        let server = try TestHTTPServer { _ in .init(status: 503, body: Data("loading".utf8)) }
        let port = try #require(Int(server.host.split(separator: ":").last ?? ""))
        let answer = try await probing { try await $0.waitForAnswer(Route(port: port, path: "/health"), timeout: 600, watching: FakeProcess()) }
        #expect(answer.status == 503)
        #expect(answer.url == "http://127.0.0.1:\(port)/health")
    }

    @Test func redirectsAreNotFollowed() async throws {
        let server = try TestHTTPServer { _ in .init(status: 302, headers: [("Location", "http://192.0.2.1/elsewhere")]) }
        let port = try #require(Int(server.host.split(separator: ":").last ?? ""))
        let answer = try await probing { try await $0.waitForAnswer(Route(port: port, path: "/"), timeout: 600, watching: FakeProcess()) }
        #expect(answer.status == 302)
    }

    @Test func retriesUntilTheTimeoutAndReportsTheLog() async throws {
        let port = try freePort()
        let outcome: Result<ProbeAnswer, Error> = await Result {
            try await probing { try await $0.waitForAnswer(Route(port: port, path: "/"), timeout: 1, watching: FakeProcess()) }
        }
        guard case let .failure(error as RunError) = outcome else { Issue.record("expected a RunError, got \(outcome)"); return }
        // The last attempt is "connection refused", or "nothing answered" when no attempt got a thread in time.
        #expect(error.description.hasPrefix("server did not answer GET http://127.0.0.1:\(port)/ within 1 s (last attempt: "), "\(error)")
        #expect(error.description.hasSuffix("); last log lines: Traceback (most recent call last): | ImportError: no module named azureml"))
    }

    @Test func aProcessThatExitsEndsTheWaitAtOnce() async throws {
        let port = try freePort()
        let process = FakeProcess()
        // From a dispatch thread: a Task could wait behind a cooperative pool that the CLI tests keep busy.
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(300)) { process.exit(1) }
        let outcome: Result<ProbeAnswer, Error> = await Result {
            try await probing { try await $0.waitForAnswer(Route(port: port, path: "/"), timeout: 60, watching: process) }
        }
        guard case let .failure(error as RunError) = outcome else { Issue.record("expected a RunError, got \(outcome)"); return }
        #expect(error.description.hasPrefix("the container exited with status 1 before GET http://127.0.0.1:\(port)/ answered; last log lines: Traceback"))
    }

    @Test func postSendsJSONAndReturnsTheBody() async throws {
        let server = try TestHTTPServer { request in
            .init(status: 200, body: Data("{\"method\":\"\(request.method)\",\"type\":\"\(request.header("Content-Type") ?? "")\"}".utf8))
        }
        let port = try #require(Int(server.host.split(separator: ":").last ?? ""))
        let answer = try await probing { try await $0.post(Data("{\"data\":[[1,2]]}".utf8), to: Route(port: port, path: "/score"), timeout: 600) }
        #expect(answer.status == 200)
        #expect(answer.body == "{\"method\":\"POST\",\"type\":\"application/json\"}")
        let refused = try freePort()
        let outcome: Result<ProbeAnswer, Error> = await Result {
            try await probing { try await $0.post(Data(), to: Route(port: refused, path: "/score"), timeout: 2) }
        }
        guard case let .failure(error as RunError) = outcome else { Issue.record("expected a RunError, got \(outcome)"); return }
        #expect(error.description == "POST http://127.0.0.1:\(refused)/score: connection refused")
    }
}

extension Result where Failure == Error {
    /// The outcome of an async throwing call.
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
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
