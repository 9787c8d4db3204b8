import Foundation
import Fuzzing
import Testing

/// Replays every seed and regression under fixtures/fuzz/<target>/ through its fuzz target, so a parser
/// change that brings back a fixed crash fails here rather than in the next fuzzing run.
@Suite struct CorpusReplayTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures/fuzz")

    /// Every regular file under `fixtures/fuzz/<target>/`, seeds and `regressions/` alike.
    static func inputs(_ target: FuzzTarget) -> [URL] {
        let directory = root.appendingPathComponent(target.rawValue)
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        return walker.compactMap { $0 as? URL }
            .filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
            .sorted { $0.path < $1.path }
    }

    @Test(arguments: FuzzTarget.allCases)
    func replay(_ target: FuzzTarget) async throws {
        let files = Self.inputs(target)
        #expect(!files.isEmpty, "fixtures/fuzz/\(target.rawValue) has no seeds")
        for file in files {
            let data = try Data(contentsOf: file)
            // Off the cooperative pool: some targets wait on async parsers, which need the pool's threads.
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                Thread {
                    target.run(data)
                    done.resume()
                }.start()
            }
        }
    }
}
