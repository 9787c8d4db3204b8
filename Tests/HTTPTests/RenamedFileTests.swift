import Foundation
import HTTP
import Testing
import TestSupport

/// Files written by rename without an fsync: whole or not at all under their name, with the mode asked for.
@Suite struct RenamedFileTests {
    @Test func aLongInternationalNameGetsItsBytesAndModeAndNoLeftovers() throws {
        let directory = try TemporaryDirectory("renamed")
        // 255 bytes, the most a name may have: a suffix on it would not fit.
        let name = String(repeating: "é", count: 125) + "ab.py"
        #expect(name.utf8.count == 255)
        let path = directory.file(name)
        try RenamedFile.write(Data("données\n".utf8), to: path, mode: 0o755)
        #expect(FileManager.default.contents(atPath: path) == Data("données\n".utf8))
        let mode = try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o755)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == [name])
    }

    @Test func aSymlinkInTheWayIsReplacedNotWrittenThrough() throws {
        let directory = try TemporaryDirectory("renamed-link")
        try directory.write("outside.txt", "keep\n")
        try FileManager.default.createSymbolicLink(atPath: directory.file("record.json"), withDestinationPath: directory.file("outside.txt"))
        try RenamedFile.write(Data("{}".utf8), to: directory.file("record.json"))
        #expect(FileManager.default.contents(atPath: directory.file("outside.txt")) == Data("keep\n".utf8))
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: directory.file("record.json"))) == nil)
        #expect(FileManager.default.contents(atPath: directory.file("record.json")) == Data("{}".utf8))
    }

    @Test func aMissingDirectoryIsAnErrorThatNamesThePath() throws {
        let directory = try TemporaryDirectory("renamed-missing")
        #expect(throws: CocoaError.self) { try RenamedFile.write(Data("x".utf8), to: directory.file("no/such/dir/file")) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }
}
