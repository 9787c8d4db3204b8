@testable import Conda
import Foundation
import Testing
import TestSupport

/// Lock files are untrusted input too: YAML that Yams cannot turn into values refuses in one line.
struct LockFileYAMLTests {
    @Test(arguments: ["version: 1\npackage:\n  - ? [a, b]\n    : x\n", "? {a: 1}\n: 2\n"])
    func yamlThatWouldTrapIsRefused(text: String) throws {
        let directory = try TemporaryDirectory("lock-yaml")
        let path = try directory.write("conda-lock.yml", text)
        #expect(throws: CondaError.self) { _ = try LockFile.read(path, platform: "linux-64") }
    }
}
