import Foundation
import Testing
import TestSupport

/// The layer cache: a rebuild after editing the code reuses the model layer without opening the model
/// (strace shows it), pushes only the code layer, config and manifest, and `--no-cache` writes everything.
@Suite struct LayerCacheTests {
    struct Project {
        let root: TemporaryDirectory
        var environment: [String: String] { ["KILN_CACHE_DIR": root.file("cache")] }
        var model: String { root.file("model/weights.bin") }

        init() throws {
            root = try TemporaryDirectory("layer-cache")
            try root.mkdir("model")
            let made = try run("/bin/sh", ["-c", "head -c 20000000 /dev/urandom > \"$1\"", "sh", root.file("model/weights.bin")])
            #expect(made.status == 0)
            try root.write("code/score.py", "def run(data):\n    return 1\n")
        }

        func build(_ output: String, _ extra: [String] = []) throws -> (KilnBinary.BuildOutput, reused: Int) {
            let result = try KilnBinary.run(["build", "--base", "scratch", "--model", "m:1=\(root.file("model"))", "--add", "\(root.file("code")):/app",
                                             "--output", output, "--json"] + extra, environment: environment)
            guard result.status == 0 else { throw KilnBinary.BuildFailed(stderr: result.stderr) }
            struct Reused: Decodable { var reusedLayers: Int }
            let data = Data(result.stdout.utf8)
            return (try JSONDecoder().decode(KilnBinary.BuildOutput.self, from: data), try JSONDecoder().decode(Reused.self, from: data).reusedLayers)
        }
    }

    @Test func aCodeEditReusesTheModelLayerUnread() throws {
        let project = try Project()
        let out = project.root.file("out")
        let first = try project.build("oci:\(out):1")
        #expect(first.reused == 0)
        try project.root.write("code/score.py", "def run(data):\n    return 2\n")
        // The second build, traced: the model file is never opened.
        let trace = project.root.file("trace")
        let traced = try run("strace", ["-f", "-e", "trace=open,openat", "-o", trace, KilnBinary.binary, "build", "--base", "scratch",
                                        "--model", "m:1=\(project.root.file("model"))", "--add", "\(project.root.file("code")):/app",
                                        "--output", "oci:\(out):2", "--json"], environment: project.environment)
        #expect(traced.status == 0, "\(traced.stderr)")
        let opened = (try? String(contentsOfFile: trace, encoding: .utf8)) ?? ""
        #expect(!opened.contains("weights.bin"), "the model was read")
        #expect(opened.contains("score.py"), "the code was read")
        let second = try JSONDecoder().decode(KilnBinary.BuildOutput.self, from: Data(traced.stdout.utf8))
        #expect(second.layers.first?.digest == first.0.layers.first?.digest, "the model layer is the same")
        #expect(second.layers.last?.digest != first.0.layers.last?.digest, "the code layer is new")
        // --no-cache writes both again, to the same bytes.
        let fresh = try project.build("oci:\(out):3", ["--no-cache"])
        #expect(fresh.reused == 0)
        #expect(fresh.0.layers.map(\.digest) == second.layers.map(\.digest))
    }

    @Test func aWarmRebuildPushesOnlyTheCode() throws {
        let registry = try TestRegistry()
        let project = try Project()
        let reference = "\(registry.host)/cache/app:1"
        _ = try project.build(reference)
        let before = registry.requests().filter { $0.method == "PATCH" || $0.method == "PUT" }.count
        try project.root.write("code/score.py", "def run(data):\n    return 3\n")
        let second = try project.build("\(registry.host)/cache/app:2")
        #expect(second.reused == 1)
        let after = registry.requests().dropFirst(0).filter { $0.method == "PATCH" || $0.method == "PUT" }
        let new = after.dropFirst(before)
        #expect(new.filter { $0.method == "PATCH" }.count == 2, "the code layer and the config: \(new)")
        #expect(new.filter { $0.method == "PUT" && $0.path.contains("/manifests/") }.count == 1)
        let heads = registry.requests().filter { $0.method == "HEAD" && $0.path.hasSuffix(second.0.layers.first?.digest ?? "-") }
        #expect(!heads.isEmpty, "the model layer is only checked")
    }

    @Test func aCacheEntryWhoseBlobIsGoneIsRebuilt() throws {
        let project = try Project()
        let first = try project.build("oci:\(project.root.file("a")):1")
        let blobs = project.root.file("cache/layers/blobs/sha256")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: blobs)) ?? [] { unlink(blobs + "/" + name) }
        let second = try project.build("oci:\(project.root.file("b")):1")
        #expect(second.reused == 0)
        #expect(second.0.manifestDigest == first.0.manifestDigest)
    }
}
