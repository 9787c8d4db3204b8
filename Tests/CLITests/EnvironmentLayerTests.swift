import Foundation
import Testing
import TestSupport

/// `kiln build` writes an environment's layers straight from the wheels: members are not extracted, their
/// deflate data goes into the gzip layer as it is (one gzip member each), and each member is checked against
/// the sha256 its wheel's RECORD states. What the layers hold must equal a directory install of the same
/// environment.
@Suite(.serialized) struct EnvironmentLayerTests {
    let cache: TemporaryDirectory

    init() throws { cache = try TemporaryDirectory("kiln-cache") }

    /// The ML set in a conda environment: the image's prefix, unpacked by umoci, equals `kiln env install`'s
    /// directory byte for byte; every new layer reads back with gzip, Python's gzip and umoci (Go); a build
    /// with an empty cache on one core gives the same digests.
    @Test func layersFromWheelsEqualADirectoryInstall() throws {
        let (_, channel) = try debianPythonChannel()
        let index = try PipIndex(directories: [try mlWheels()])
        let work = try TemporaryDirectory("env-layers")
        let requirements = try String(contentsOfFile: fixturePath("pypi/ml-requirements.txt"), encoding: .utf8)
            .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        _ = try pythonPipEnvironment(in: work, channel: channel, pip: ["--index-url \(index.url())"] + requirements)
        let environment = ["KILN_CACHE_DIR": cache.path]
        let flags = ["--base", "debian-python", "--conda-file", work.file("environment.yml"), "--env-prefix", "/opt/env"]
        let built = try KilnBinary.build(flags + ["--output", "oci:\(work.file("image")):1"], environment: environment)
        let installed = try KilnBinary.run(["env", "install", work.file("environment.yml"), "--prefix", work.file("env"), "--target-prefix", "/opt/env"],
                                           environment: environment)
        #expect(installed.status == 0, "\(installed.stderr)")
        let bundle = work.file("bundle")
        let unpacked = try run("umoci", ["raw", "unpack", "--rootless", "--image", work.file("image") + ":1", bundle])
        #expect(unpacked.status == 0, "\(unpacked.stderr)")
        let image = try tree(bundle + "/opt/env"), directory = try tree(work.file("env"))
        #expect(image.count == directory.count && image.count > 5000, "\(image.count) against \(directory.count)")
        let different = Set(image.keys).union(directory.keys).filter { image[$0] != directory[$0] }.sorted()
        #expect(different.isEmpty, "\(different.prefix(20))")

        // Spliced members make multi-member gzip; every reader must see one stream whose sha256 is the diffID.
        var members = 0
        for layer in built.layers {
            let blob = work.file("image/blobs/sha256/" + layer.digest.dropFirst(7))
            let tested = try run("gzip", ["-t", blob])
            #expect(tested.status == 0, "\(layer.digest): \(tested.stderr)")
            let read = try run(try peerPython(), ["-c", """
                import gzip, hashlib, sys, zlib
                data = open(sys.argv[1], "rb").read()
                count = 0
                while data:
                    d = zlib.decompressobj(31)
                    d.decompress(data)
                    data = d.unused_data
                    count += 1
                print("sha256:" + hashlib.sha256(gzip.open(sys.argv[1]).read()).hexdigest(), count)
                """, blob])
            #expect(read.status == 0, "\(read.stderr)")
            let fields = read.stdout.split(separator: " ")
            #expect(fields.first.map(String.init) == layer.diffID, "\(layer.digest)")
            members += Int(fields.last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        }
        #expect(members > 1000, "wheel members are spliced, not recompressed (\(members) gzip members)")

        // Built again with the same cache, the environment's staged tree is new (other inodes and times), but the
        // layers are keyed by its files' contents: all of them come from the layer cache, with the same digests.
        let warm = try KilnBinary.build(flags + ["--output", "oci:\(work.file("warm")):1"], environment: environment)
        #expect(warm.manifestDigest == built.manifestDigest)
        #expect(warm.reusedLayers == built.layers.count - 1, "\(String(describing: warm.reusedLayers)) of \(built.layers.count) layers reused")

        let again = try run("taskset", ["-c", "0", KilnBinary.binary] + ["build"] + flags + ["--output", "oci:\(work.file("again")):1", "--json"],
                            environment: ["KILN_CACHE_DIR": work.file("fresh-cache")])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try JSONDecoder().decode(KilnBinary.BuildOutput.self, from: Data(again.stdout.utf8)).manifestDigest == built.manifestDigest)
    }

    /// A wheel whose RECORD states another sha256 than a member holds fails the build, whether the member is
    /// spliced (long) or inflated into the stream (short): one line naming the wheel and member, no image.
    @Test func aMemberThatDoesNotMatchItsRecordFailsTheBuild() throws {
        let channels = try condaFixtureChannels()
        for lie in ["liar/data.bin", "liar/__init__.py"] {
            let wheels = try TemporaryDirectory("liar-wheels"), work = try TemporaryDirectory("liar"), out = try TemporaryDirectory("out")
            let made = try run(try peerPython(), ["-c", """
                import base64, hashlib, os, random, sys, zipfile
                members = {"liar/__init__.py": b"VALUE = 1\\n", "liar/data.bin": random.Random(1).randbytes(65536),
                           "liar-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\\nName: liar\\nVersion: 1.0\\n",
                           "liar-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
                def digest(data):
                    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                lines = [f"{name},sha256={digest(b'tampered' if name == sys.argv[2] else data)},{len(data)}" for name, data in members.items()]
                with zipfile.ZipFile(os.path.join(sys.argv[1], "liar-1.0-py3-none-any.whl"), "w", zipfile.ZIP_DEFLATED) as wheel:
                    for name, data in members.items():
                        wheel.writestr(name, data)
                    wheel.writestr("liar-1.0.dist-info/RECORD", "\\n".join(lines + ["liar-1.0.dist-info/RECORD,,"]) + "\\n")
                """, wheels.path, lie])
            #expect(made.status == 0, "\(made.stderr)")
            let index = try PipIndex(directories: [wheels.path])
            _ = try condaPipEnvironment(in: work, channels: channels, index: index, pip: ["liar"])
            let result = try KilnBinary.run(["build", "--base", "scratch", "--conda-file", "environment.yml", "--virtual-package", "__glibc=2.28",
                                             "--output", "oci:\(out.file("image")):1"], environment: ["KILN_CACHE_DIR": cache.path], directory: work.path)
            #expect(result.status != 0, "\(lie)")
            let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("kiln: error:") }
            #expect(errors.count == 1 && errors.first?.contains("liar-1.0-py3-none-any.whl: \(lie): its sha256 is ") == true
                    && errors.first?.contains("the archive's RECORD states") == true, "\(result.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).isEmpty)
        }
    }

    /// Every file and symlink under `root`, with its mode and full contents' sha256; directories with their mode.
    func tree(_ root: String) throws -> [String: String] {
        let listing = try run(try peerPython(), ["-c", """
            import hashlib, os, stat, sys
            root = sys.argv[1]
            for base, dirs, files in os.walk(root):
                for name in sorted(dirs + files):
                    path = os.path.join(base, name)
                    info = os.lstat(path)
                    rel = os.path.relpath(path, root)
                    if stat.S_ISLNK(info.st_mode):
                        print(rel, "-> " + os.readlink(path), sep="\\t")
                    elif stat.S_ISDIR(info.st_mode):
                        print(rel, "dir " + oct(info.st_mode & 0o7777), sep="\\t")
                    else:
                        print(rel, oct(info.st_mode & 0o7777) + " " + hashlib.sha256(open(path, "rb").read()).hexdigest(), sep="\\t")
            """, root])
        guard listing.status == 0 else { throw ToolMissing(name: "python over \(root): \(listing.stderr)") }
        var result: [String: String] = [:]
        for line in listing.stdout.split(separator: "\n") {
            let parts = line.split(separator: "\t", maxSplits: 1)
            if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
        }
        return result
    }
}
