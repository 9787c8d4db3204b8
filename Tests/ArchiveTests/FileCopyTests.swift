@testable import Archive
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Whole-file copies in the kernel (`FileCopy`), as a blob from a base layout on one file system reaches an output
/// layout on another.
@Suite struct FileCopyTests {
    /// Bytes that differ from page to page, of an odd size, so no copy lines up with pages or chunks by luck.
    static func bytes(_ count: Int) -> Data {
        Data((0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) })
    }

    /// Within one file system and from it into /dev/shm (tmpfs), where copy_file_range refuses (EXDEV) and sendfile
    /// takes over: the same bytes, mode 0644.
    @Test func copiesWithinAndAcrossFileSystems() throws {
        let scratch = try TemporaryDirectory("file-copy")
        let shm = FileManager.default.fileExists(atPath: "/dev/shm") ? try TemporaryDirectory("file-copy", in: "/dev/shm") : nil
        let data = Self.bytes(3_000_017)
        let source = scratch.file("blob données")
        try data.write(to: URL(fileURLWithPath: source))
        for directory in [scratch] + (shm.map { [$0] } ?? []) {
            let target = directory.file("copy 模型")
            try FileCopy.copy(from: source, to: target)
            #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == data, "\(directory.path)")
            var info = stat()
            #expect(stat(target, &info) == 0 && info.st_mode & 0o777 == 0o644 & ~Self.umask)
        }
    }

    @Test func anEmptyFileIsCopied() throws {
        let scratch = try TemporaryDirectory("file-copy")
        let source = scratch.file("empty")
        _ = FileManager.default.createFile(atPath: source, contents: Data())
        try FileCopy.copy(from: source, to: scratch.file("copy"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.file("copy"))).isEmpty)
    }

    /// The target must be new: an existing file is an error and is left as it was.
    @Test func anExistingTargetIsLeftAlone() throws {
        let scratch = try TemporaryDirectory("file-copy")
        try Data("new".utf8).write(to: URL(fileURLWithPath: scratch.file("source")))
        try Data("old".utf8).write(to: URL(fileURLWithPath: scratch.file("target")))
        #expect(throws: ArchiveError.self) { try FileCopy.copy(from: scratch.file("source"), to: scratch.file("target")) }
        #expect(try String(contentsOfFile: scratch.file("target"), encoding: .utf8) == "old")
    }

    /// A missing source names itself, and no target is left.
    @Test func aMissingSourceLeavesNoTarget() throws {
        let scratch = try TemporaryDirectory("file-copy")
        let error = #expect(throws: ArchiveError.self) { try FileCopy.copy(from: scratch.file("gone"), to: scratch.file("target")) }
        #expect("\(error.map { "\($0)" } ?? "")".contains(scratch.file("gone")))
        #expect(!FileManager.default.fileExists(atPath: scratch.file("target")))
    }

    /// A directory is not a blob: reading it fails, and the half-made target is removed.
    @Test func aDirectorySourceLeavesNoTarget() throws {
        let scratch = try TemporaryDirectory("file-copy")
        try FileManager.default.createDirectory(atPath: scratch.file("dir"), withIntermediateDirectories: false)
        try Data(repeating: 1, count: 10).write(to: URL(fileURLWithPath: scratch.file("dir/inside")))
        #expect(throws: ArchiveError.self) { try FileCopy.copy(from: scratch.file("dir"), to: scratch.file("target")) }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("target")))
    }

    static var umask: mode_t {
        let mask = Glibc.umask(0)
        Glibc.umask(mask)
        return mask
    }
}
