import Foundation

/// Runs async `body` to completion from synchronous code (libFuzzer calls in synchronously).
func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.set(.success(try await body())) } catch { box.set(.failure(error)) }
        done.signal()
    }
    done.wait()
    guard let result = box.get() else { throw FuzzError.noResult }
    return try result.get()
}

enum FuzzError: Error { case noResult }

/// The result of a task, handed across threads under a lock.
final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<T, any Error>?
    func set(_ result: Result<T, any Error>) { lock.lock(); value = result; lock.unlock() }
    func get() -> Result<T, any Error>? { lock.lock(); defer { lock.unlock() }; return value }
}

/// A per-process scratch directory for parsers that read files; each input overwrites the last.
enum Scratch {
    static let root: String = {
        // scripts/fuzz.sh names a directory it removes afterwards; otherwise one per process.
        let base = ProcessInfo.processInfo.environment["KILN_FUZZ_SCRATCH"]
            ?? (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory())
        let path = "\(base)/kiln-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        // Removed at a normal exit (the corpus replay test); a crashing fuzzer leaves it for the reproducer.
        atexit { try? FileManager.default.removeItem(atPath: Scratch.root) }
        return path
    }()

    /// Writes `data` to `name` under the scratch root; nil if the file system refuses.
    static func write(_ data: Data, name: String) -> String? {
        let path = root + "/" + name
        do {
            try data.write(to: URL(fileURLWithPath: path))
            return path
        } catch {
            return nil
        }
    }

    /// Creates (if needed) and returns a directory under the scratch root.
    static func directory(named name: String) -> String? {
        let path = root + "/" + name
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        } catch {
            return nil
        }
    }
}
