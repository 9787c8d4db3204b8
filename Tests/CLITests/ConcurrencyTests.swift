import Foundation
import Testing
import TestSupport

/// Kiln processes that share things at the same time: a cache directory, a registry tag, a push cut off
/// by a signal. Nothing half-written is ever read, no tag points at an incomplete image.
@Suite struct ConcurrencyTests {
    /// Runs every argument list at once; their results in order.
    static func together(_ runs: [[String]], environment: [String: String] = [:]) throws -> [ProcessResult] {
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: runs.count) { index in
            results.set(index, Result { try KilnBinary.run(runs[index], environment: environment) })
        }
        return try (0..<runs.count).map { try results.get($0) }
    }

    final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private var values: [Int: Result<ProcessResult, Error>] = [:]
        func set(_ index: Int, _ value: Result<ProcessResult, Error>) { lock.withLock { values[index] = value } }
        func get(_ index: Int) throws -> ProcessResult {
            guard let value = lock.withLock({ values[index] }) else { throw ToolMissing(name: "run \(index)") }
            return try value.get()
        }
    }

    /// Files a writer was still working on: `.part` files and staging siblings.
    static func halfWritten(_ directory: String) -> [String] {
        var found: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let path = enumerator?.nextObject() as? String {
            let name = (path as NSString).lastPathComponent
            if name.hasSuffix(".part") || name.hasSuffix(".stale") || name.contains(".kiln-") { found.append(path) }
        }
        return found
    }

    /// Four builds of one conda + pip environment with one cold `KILN_CACHE_DIR`: each downloads, verifies
    /// and extracts into the shared cache while the others read it. All four give the same image.
    @Test func fourBuildsShareOneColdCache() throws {
        let channels = try condaFixtureChannels()
        let index = try PipIndex(directories: [try syntheticWheels() + "/good"])
        let work = try TemporaryDirectory("shared-cache")
        try condaPipEnvironment(in: work, channels: channels, index: index, pip: ["tool[fancy]", "alpha==1.0"])
        for round in 0..<2 {
            let cache = work.file("cache-\(round)")
            let runs = (0..<4).map { number in
                ["build", "--base", "scratch", "--conda-file", work.file("environment.yml"), "--virtual-package", "__glibc=2.28",
                 "--env-prefix", "/opt/env", "--output", "oci:\(work.file("out-\(round)-\(number)")):1", "--json"]
            }
            let results = try Self.together(runs, environment: ["KILN_CACHE_DIR": cache])
            var digests = Set<String>()
            for result in results {
                #expect(result.status == 0, "\(result.stderr)")
                struct Built: Decodable { var manifestDigest: String }
                if let built = try? JSONDecoder().decode(Built.self, from: Data(result.stdout.utf8)) { digests.insert(built.manifestDigest) }
            }
            #expect(digests.count == 1, "the same image from every build: \(digests)")
            #expect(Self.halfWritten(cache).isEmpty, "\(Self.halfWritten(cache))")
        }
    }

    /// Two pushes of different images to one tag at the same moment, several times: the tag always names
    /// one of them, complete (every blob present: skopeo copies it whole).
    @Test func twoPushesOfOneTagLeaveOneCompleteImage() throws {
        let registry = try TestRegistry()
        let work = try TemporaryDirectory("same-tag")
        var images: [String: String] = [:]
        for name in ["a", "b"] {
            try work.write("in-\(name)/data.bin", Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* (name == "a" ? 7 : 13)) }))
            let built = try KilnBinary.build(["--base", "scratch", "--add", "\(work.file("in-\(name)")):/data", "--output", "oci:\(work.file(name)):1"])
            images[built.manifestDigest] = name
        }
        for round in 0..<3 {
            let tag = "\(registry.host)/race/model:r\(round)"
            let results = try Self.together([["push", "oci:\(work.file("a")):1", tag], ["push", "oci:\(work.file("b")):1", tag]])
            for result in results { #expect(result.status == 0, "\(result.stderr)") }
            let inspected = try KilnBinary.run(["inspect", tag])
            #expect(inspected.status == 0, "\(inspected.stderr)")
            struct Inspected: Decodable { var manifestDigest: String }
            let digest = (try? JSONDecoder().decode(Inspected.self, from: Data(inspected.stdout.utf8)))?.manifestDigest ?? ""
            #expect(images[digest] != nil, "the tag names one of the two images: \(digest) \(inspected.stdout.prefix(300))")
            let copied = try run("skopeo", ["copy", "--src-tls-verify=false", "docker://\(tag)", "oci:\(work.file("copy-\(round)")):1"])
            #expect(copied.status == 0, "every blob of the tagged image is there: \(copied.stderr)")
        }
    }

    /// SIGINT or SIGTERM in the middle of a push: exit 130 or 143, no tag at the registry, nothing left locally.
    @Test(arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143))])
    func anInterruptedPushSetsNoTag(signal: Int32, status: Int32) throws {
        let registry = try TestRegistry()
        let work = try TemporaryDirectory("push-interrupt")
        let made = try run("/bin/sh", ["-c", "head -c 300000000 /dev/urandom > \"$1\"", "sh", work.file("weights.bin")])
        #expect(made.status == 0)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: KilnBinary.binary)
        process.arguments = ["build", "--base", "scratch", "--model", "big:1=\(work.file("weights.bin"))", "--output", "\(registry.host)/cut/model:1"]
        process.standardOutput = FileHandle.nullDevice
        FileManager.default.createFile(atPath: work.file("err"), contents: nil)
        process.standardError = FileHandle(forWritingAtPath: work.file("err"))
        try process.run()
        // Wait until the upload has started, so the signal lands mid-push.
        let deadline = Date().addingTimeInterval(120)
        while !registry.requests().contains(where: { $0.method == "POST" && $0.path.contains("/cut/model/blobs/uploads") }) {
            guard process.isRunning, Date() < deadline else { break }
            usleep(20_000)
        }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        let stderr = (try? String(contentsOfFile: work.file("err"), encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == status, "\(stderr)")
        #expect(!registry.requests().contains { $0.method == "PUT" && $0.path.contains("/manifests/") }, "no manifest, so no tag")
        let tags = try KilnBinary.run(["tags", "\(registry.host)/cut/model"])
        #expect(!tags.stdout.contains("1"), "\(tags.stdout)")
        #expect(Self.halfWritten(work.path).isEmpty)
    }
}
