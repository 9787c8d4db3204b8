import Foundation
import Testing
import TestSupport

/// A disk that fills up mid-build: one `kiln: error:` line that says so and names the file, exit 1, and
/// nothing left on the full file system (a small tmpfs, mounted as root, as runc needs anyway).
@Suite struct FullDiskTests {
    /// A tmpfs of `size` mounted on a fresh directory for the length of `body`.
    static func withSmallDisk(_ size: String, _ body: (String) throws -> Void) throws {
        let root = try TemporaryDirectory("full-disk")
        let mounted = try run("mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", root.path])
        try #require(mounted.status == 0, "mounting a tmpfs needs root: \(mounted.stderr)")
        defer { _ = try? run("umount", [root.path]) }
        try body(root.path)
    }

    static func expectFullDiskLine(_ result: ProcessResult, naming path: String) {
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("kiln: error: ") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("No space left on device") && result.stderr.contains(path), "\(result.stderr)")
    }

    static func left(_ path: String) -> [String] { (try? FileManager.default.subpathsOfDirectory(atPath: path)) ?? [] }

    @Test(arguments: ["oci:DISK/img:1", "docker-archive:DISK/img.tar"])
    func aBuildThatFillsTheDiskLeavesNothing(output: String) throws {
        let work = try TemporaryDirectory("full-disk-model")
        let made = try run("/bin/sh", ["-c", "head -c 30000000 /dev/urandom > \"$1\"", "sh", work.file("weights.bin")])
        #expect(made.status == 0)
        try Self.withSmallDisk("10m") { disk in
            let result = try KilnBinary.run(["build", "--base", "scratch", "--model", "big:1=\(work.file("weights.bin"))",
                                             "--output", output.replacingOccurrences(of: "DISK", with: disk)])
            Self.expectFullDiskLine(result, naming: disk)
            #expect(Self.left(disk).isEmpty, "\(Self.left(disk))")
        }
    }

    @Test func aCacheOnAFullDiskIsOneLineAndInstallsNothing() throws {
        let index = try PipIndex(directories: [try syntheticWheels() + "/good"])
        let work = try TemporaryDirectory("full-disk-pip")
        let requirements = try work.write("requirements.txt", "tool[fancy]\nalpha==1.0\n")
        try Self.withSmallDisk("64k") { disk in
            let result = try KilnBinary.run(["pip", "install", "-r", requirements, "--python", "3.11", "--glibc", "2.28", "--target", disk + "/site",
                                             "--index-url", index.url()],
                                            environment: ["KILN_CACHE_DIR": disk + "/cache"])
            Self.expectFullDiskLine(result, naming: disk)
            #expect(!FileManager.default.fileExists(atPath: disk + "/site"))
            #expect(!Self.left(disk).contains { $0.hasSuffix(".part") }, "\(Self.left(disk))")
        }
    }
}
