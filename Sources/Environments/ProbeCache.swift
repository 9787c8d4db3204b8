import Foundation
import OCI

/// Answers read from a base image's layers (its glibc, its python), kept by the layers' digests: a blob named
/// by its sha256 never changes, so the answer never does, and a rebuild over the same base need not
/// decompress it again. Layers not named by their digest are read every time.
struct ProbeCache {
    /// `<cache>/probes`.
    let directory: URL

    init(cacheDirectory: URL) {
        directory = cacheDirectory.appendingPathComponent("probes")
    }

    private struct Stored<Value: Codable>: Codable {
        var value: Value?
    }

    /// `compute()`'s answer for `layers`, from the cache when an earlier build stored it. A cache that cannot be
    /// read or written is passed over: it only saves time.
    func answer<Value: Codable>(_ question: String, layers: [String], _ compute: () throws -> Value?) throws -> Value? {
        if let stored = stored(question, layers: layers, as: Value.self) { return stored }
        let value = try compute()
        store(value, for: question, layers: layers)
        return value
    }

    /// The answer an earlier build stored to `question` for `layers`, read without the layers (they need not even exist):
    /// `.some(nil)` when it stored "none", nil when it stored nothing readable.
    func stored<Value: Codable>(_ question: String, layers: [String], as _: Value.Type) -> Value?? {
        guard let file = file(question, layers: layers), let data = FileManager.default.contents(atPath: file.path),
              let stored = try? JSONDecoder().decode(Stored<Value>.self, from: data) else { return nil }
        return .some(stored.value)
    }

    /// Whether an earlier build stored a readable answer of type `Value` to `question` for `layers`, which `answer`
    /// would then give without reading them.
    func has<Value: Codable>(_ question: String, layers: [String], as type: Value.Type) -> Bool {
        stored(question, layers: layers, as: type) != nil
    }

    /// Keeps `value` as the answer to `question` for `layers`: an answer found while computing another.
    func store<Value: Codable>(_ value: Value?, for question: String, layers: [String]) {
        if let file = file(question, layers: layers) { store(value, at: file) }
    }

    private func store<Value: Codable>(_ value: Value?, at file: URL) {
        if let data = try? JSONEncoder().encode(Stored(value: value)) {
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try? data.write(to: file, options: .atomic)
        }
    }

    /// Where the answer to `question` for `layers` is kept; nil when a layer is not named by its digest.
    private func file(_ question: String, layers: [String]) -> URL? {
        let digests = layers.map { ($0 as NSString).lastPathComponent }
        guard !digests.isEmpty, digests.allSatisfy({ $0.utf8.count == 64 && $0.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) } }) else {
            return nil
        }
        let key = Digest.sha256(of: Data((["kiln-probe 1", question] + digests).joined(separator: "\n").utf8)).encoded
        return directory.appendingPathComponent(key + ".json")
    }
}
