import Environments
import Foundation

extension Kiln {
    /// Reads the base's `layers` for its python and glibc on a thread of its own, and runs `install` on the first
    /// answers the probe gives before it has read them all (`PythonProbe.answers`), so that resolving and fetching
    /// overlap the rest of the read. When the final answers differ (a later member or layer replaced the interpreter
    /// or libc, or libc disagreed with what ldd said), the first install is dropped and `install` runs again on them,
    /// with `attempt` 1. Errors come in the order a probe-then-install would give them: the probe's first.
    static func probingAhead<T: Sendable>(_ layers: [String], hint: BasePython?, needsGlibc: Bool, cache: URL, log: @escaping (String) -> Void,
                                          install: (PythonProbe.Answers, _ attempt: Int) async throws -> T) async throws -> T {
        let (events, sender) = AsyncStream.makeStream(of: ProbeEvent.self)
        Thread.detachNewThread {
            let final = Result { try PythonProbe.answers(inLayers: layers, hint: hint, needsGlibc: needsGlibc, cache: cache) { sender.yield(.early($0)) } }
            sender.yield(.final(final))
            sender.finish()
        }
        var received = events.makeAsyncIterator()
        func final() async throws -> PythonProbe.Answers {
            while let event = await received.next() {
                if case let .final(result) = event { return try result.get() }
            }
            throw PlanError.invalid("the probe of the base image ended without an answer")
        }
        let guess: PythonProbe.Answers
        switch await received.next() {
        case let .early(answers)?: guess = answers
        // No early answer (the interpreter, or the libc, came last): the final one, as a plain probe gives it.
        case let .final(result)?: return try await install(result.get(), 0)
        case nil: throw PlanError.invalid("the probe of the base image ended without an answer")
        }
        let first: Result<T, Error>
        do { first = .success(try await install(guess, 0)) } catch { first = .failure(error) }
        let answers = try await final()
        if answers == guess { return try first.get() }
        log("note: the rest of the base image changed its python or glibc (\(guess.describe) became \(answers.describe)); installing again")
        return try await install(answers, 1)
    }

    enum ProbeEvent: Sendable {
        case early(PythonProbe.Answers)
        case final(Result<PythonProbe.Answers, Error>)
    }
}

extension PythonProbe.Answers {
    var describe: String {
        "python \(python.map { "\($0.version) at \($0.interpreter), packages in \($0.sitePackages)" } ?? "none"), glibc \(glibc ?? "none")"
    }
}
