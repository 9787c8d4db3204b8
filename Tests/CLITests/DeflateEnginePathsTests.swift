import Foundation
import Testing
import TestSupport

/// ISA-L chooses its deflate code by CPU (SSE4.2, AVX, AVX2, AVX-512). The layers must not depend on it: kiln run
/// under qemu's models of older x86-64 CPUs writes this machine's digests. A CPU without SSE4.2, where ISA-L's
/// C fallback would give other bytes, compresses with zlib, as `KILN_DEFLATE=zlib` does here.
@Suite struct DeflateEnginePathsTests {
    /// About 3 MB of text in several 1 MiB blocks (each deflated, each primed with the one before), an
    /// incompressible megabyte, and a non-ASCII name.
    static func tree() throws -> TemporaryDirectory {
        let root = try TemporaryDirectory("deflate-paths")
        let words = ["tensor", "poids", "模型", "layer", "weight", "données", "gradient", "epoch"]
        var state: UInt64 = 20_261_202
        var text = ""
        while text.utf8.count < 3_000_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            text += words[Int(state >> 61)] + ((state >> 40) % 9 == 0 ? "\n" : " ")
        }
        try root.write("src/vocab.txt", text)
        try root.write("src/données/poids.bin", Data((0..<1_048_576).map { index -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: (state >> 33) ^ UInt64(index))
        }))
        return root
    }

    static func arguments(_ root: TemporaryDirectory, _ name: String) -> [String] {
        ["--no-cache", "--base", "scratch", "--add", "\(root.file("src")):/data", "--output", "oci:\(root.file(name))"]
    }

    /// `kiln build --json` under `qemu-x86_64 -cpu <model>`.
    static func build(on cpu: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ProcessResult {
        try run(try which("qemu-x86_64"), ["-cpu", cpu, KilnBinary.binary, "build"] + arguments + ["--json"], environment: environment)
    }

    static func manifestDigest(_ result: ProcessResult) throws -> String {
        try #require(result.status == 0, "\(result.stderr)")
        return try JSONDecoder().decode(KilnBinary.BuildOutput.self, from: Data(result.stdout.utf8)).manifestDigest
    }

    @Test func everyX86PathGivesTheSameLayers() throws {
        #if arch(x86_64)
        let root = try Self.tree()
        let native = try KilnBinary.build(Self.arguments(root, "native"))
        let zlib = try KilnBinary.build(Self.arguments(root, "zlib"), environment: ["KILN_DEFLATE": "zlib"])
        #expect(native.layers.map(\.diffID) == zlib.layers.map(\.diffID), "the same tar either way")
        #expect(native.manifestDigest != zlib.manifestDigest, "this CPU has SSE4.2: ISA-L compresses")
        // Nehalem: SSE4.2, no AVX. SandyBridge: AVX. Haswell: AVX2. Skylake: AVX2, other tuning. This machine: AVX-512.
        for cpu in ["Nehalem", "SandyBridge", "Haswell-v1", "Skylake-Client-v1"] {
            #expect(try Self.manifestDigest(Self.build(on: cpu, Self.arguments(root, cpu))) == native.manifestDigest, "\(cpu)")
        }
        // core2duo has no SSE4.2: zlib, and the bytes KILN_DEFLATE=zlib gives on any machine.
        #expect(try Self.manifestDigest(Self.build(on: "core2duo", Self.arguments(root, "core2duo"))) == zlib.manifestDigest)
        let refused = try Self.build(on: "core2duo", Self.arguments(root, "refused"), environment: ["KILN_DEFLATE": "isal"])
        #expect(refused.status == 1)
        let lines = refused.stderr.split(separator: "\n").filter { !$0.hasPrefix("qemu-x86_64: warning") }
        #expect(lines.count == 1 && lines[0].contains("KILN_DEFLATE=isal: ISA-L's deflate gives other bytes on this CPU"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root.file("refused")), "no half-written layout")
        // The ISA-L layers read back through Python's gzip to the tar the diffIDs name.
        let python = try run(pythonPath(), ["-c", """
            import gzip, hashlib, json, sys
            root = sys.argv[1]
            index = json.load(open(root + '/index.json'))
            manifest = json.load(open(root + '/blobs/sha256/' + index['manifests'][0]['digest'][7:]))
            config = json.load(open(root + '/blobs/sha256/' + manifest['config']['digest'][7:]))
            for layer, diff in zip(manifest['layers'], config['rootfs']['diff_ids']):
                tar = gzip.decompress(open(root + '/blobs/sha256/' + layer['digest'][7:], 'rb').read())
                assert 'sha256:' + hashlib.sha256(tar).hexdigest() == diff, layer
            """, root.file("native")])
        #expect(python.status == 0, "\(python.stderr)")
        #endif
    }
}
