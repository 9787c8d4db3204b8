import Foundation
import Testing
import TestSupport

/// Concurrent builds into one layout, and builds that are interrupted or killed: no lost tag, no corrupt
/// layout, no leftover directory.
@Suite struct InterruptTests {
    /// Starts `kiln` with `arguments`, not waiting for it; its stderr goes to `stderr`.
    static func start(_ arguments: [String], stderr: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: KilnBinary.binary)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        FileManager.default.createFile(atPath: stderr, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: stderr)
        try process.run()
        return process
    }

    /// Staging directories Kiln left beside `name` in `directory`.
    static func staging(_ directory: String, _ name: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix(".\(name).kiln-") }
    }

    /// Waits until the build is writing its layer (a file in the staging directory for `name` holds 8 MB), so
    /// the signal lands mid-build. A fixed sleep after the directory appeared raced the release binary, which
    /// writes a stored layer at about 1 GB/s.
    static func waitForStaging(_ directory: String, _ name: String, process: Process) throws {
        let deadline = Date().addingTimeInterval(60)
        while !staging(directory, name).contains(where: { writing(directory + "/" + $0) }) {
            guard process.isRunning, Date() < deadline else { throw ToolMissing(name: "a build that was still running") }
            usleep(5_000)
        }
    }

    /// Whether a file under `root` holds at least 8 MB.
    static func writing(_ root: String) -> Bool {
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let relative = enumerator?.nextObject() as? String {
            let size = (try? FileManager.default.attributesOfItem(atPath: root + "/" + relative)[.size] as? Int) ?? 0
            if size >= 8 << 20 { return true }
        }
        return false
    }

    /// A model big enough that writing its layer takes a while even at disk speed (random bytes do not compress).
    static func bigModel(_ root: TemporaryDirectory) throws -> String {
        let made = try run("/bin/sh", ["-c", "head -c 600000000 /dev/urandom > \"$1\"", "sh", root.file("weights.bin")])
        #expect(made.status == 0)
        return root.file("weights.bin")
    }

    static let writers = 6

    @Test func sixBuildsIntoOneLayoutAllLand() throws {
        let root = try TemporaryDirectory("concurrent")
        // Equal work (5 MB that does not compress), so the builds finish together and their writes collide:
        // without the lock, one of six failed to rename and another's tag was lost from index.json.
        let made = try run("/bin/sh", ["-c", "head -c 5000000 /dev/urandom > \"$1\"", "sh", root.file("payload.bin")])
        #expect(made.status == 0)
        for round in 0..<2 {
            // Round 0 creates the layout (all six race to make it); round 1 adds to it.
            let processes = try (0..<Self.writers).map { number in
                try root.write("in-\(round)-\(number)/file.txt", "build \(round) \(number)\n")
                try FileManager.default.copyItem(atPath: root.file("payload.bin"), toPath: root.file("in-\(round)-\(number)/payload.bin"))
                return try Self.start(["build", "--base", "scratch", "--add", "\(root.file("in-\(round)-\(number)")):/data",
                                       "--output", "oci:\(root.file("layout")):r\(round)-\(number)"], stderr: root.file("err-\(round)-\(number)"))
            }
            for (number, process) in processes.enumerated() {
                process.waitUntilExit()
                #expect(process.terminationStatus == 0, "\((try? String(contentsOfFile: root.file("err-\(round)-\(number)"), encoding: .utf8)) ?? "")")
            }
        }
        let listed = try run("umoci", ["ls", "--layout", root.file("layout")])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(Set(listed.stdout.split(separator: "\n").map(String.init)) == Set((0..<2).flatMap { round in (0..<Self.writers).map { "r\(round)-\($0)" } }))
        for round in 0..<2 {
            for number in 0..<Self.writers {
                let unpacked = try run("umoci", ["raw", "unpack", "--rootless", "--image", root.file("layout") + ":r\(round)-\(number)", root.file("u-\(round)-\(number)")])
                #expect(unpacked.status == 0, "\(unpacked.stderr)")
                #expect((try? String(contentsOfFile: root.file("u-\(round)-\(number)/data/file.txt"), encoding: .utf8)) == "build \(round) \(number)\n")
            }
        }
        #expect(Self.staging(root.path, "layout").isEmpty)
    }

    @Test(arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143))])
    func anInterruptedBuildLeavesNothing(signal: Int32, status: Int32) throws {
        let root = try TemporaryDirectory("interrupt")
        let model = try Self.bigModel(root)
        let out = try TemporaryDirectory("out")
        let process = try Self.start(["build", "--base", "scratch", "--model", "big:1=\(model)", "--output", "oci:\(out.file("new/dir/img")):1"],
                                     stderr: root.file("err"))
        try Self.waitForStaging(out.file("new/dir"), "img", process: process)
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        #expect(process.terminationStatus == status, "\((try? String(contentsOfFile: root.file("err"), encoding: .utf8)) ?? "")")
        #expect(!FileManager.default.fileExists(atPath: out.file("new")), "no output, no staging, no parents made for it")
    }

    @Test func aKilledBuildsLeftoversGoOnTheNextRun() throws {
        let root = try TemporaryDirectory("killed")
        let model = try Self.bigModel(root)
        let out = try TemporaryDirectory("out")
        let arguments = ["build", "--base", "scratch", "--model", "big:1=\(model)", "--output", "oci:\(out.file("img")):1"]
        let killed = try Self.start(arguments, stderr: root.file("err"))
        try Self.waitForStaging(out.path, "img", process: killed)
        kill(killed.processIdentifier, SIGKILL)
        killed.waitUntilExit()
        #expect(Self.staging(out.path, "img").count == 1, "SIGKILL leaves the staging directory")
        // A live build's staging directory is not touched by another run; a dead one's is removed.
        let next = try KilnBinary.run(arguments)
        #expect(next.status == 0, "\(next.stderr)")
        #expect(Self.staging(out.path, "img").isEmpty)
        #expect(FileManager.default.fileExists(atPath: out.file("img/index.json")))
    }
}
