import Archive
import Kiln
import Foundation
import OCI
import Testing
import TestSupport

@Suite struct InspectDiffTests {
    @Test func diffListsFilesAndConfig() throws {
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        _ = try KilnBinary.build(fixture.standardArguments + ["--output", "oci:\(out.file("a"))"])
        try fixture.root.write("code/score.py", "def run(data):\n    return 2 * data\n")
        try fixture.root.write("code/new_module.py", "Y = 2\n")
        try FileManager.default.removeItem(atPath: fixture.root.file("code/utils/helpers.py"))
        try fixture.root.write("code/utils/helpers.py", "X = 1\n", mode: 0o755)
        _ = try KilnBinary.build(fixture.standardArguments.map { $0 == "WORKERS=2" ? "WORKERS=4" : $0 } + ["--output", "docker-archive:\(out.file("b.tar"))"])
        let diff = try KilnBinary.run(["diff", "oci:\(out.file("a"))", "docker-archive:\(out.file("b.tar"))"])
        #expect(diff.status == 0, "\(diff.stderr)")
        let lines = diff.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("+ /var/azureml-app/code/new_module.py"))
        #expect(lines.contains("~ /var/azureml-app/code/score.py (content)"))
        #expect(lines.contains("~ /var/azureml-app/code/utils/helpers.py (mode)"))
        #expect(lines.contains { $0.hasPrefix("config config.Env: ") && $0.contains("WORKERS=2") && $0.contains("WORKERS=4") })
        #expect(!lines.contains { $0.contains("model.pkl") })
    }

    @Test func diffSeesWhiteoutsWrittenByUmoci() throws {
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        _ = try KilnBinary.build(fixture.standardArguments + ["--output", "oci:\(out.file("layout")):v1"])
        #expect(try run("umoci", ["unpack", "--image", "\(out.file("layout")):v1", out.file("bundle")]).status == 0)
        try FileManager.default.removeItem(atPath: out.file("bundle/rootfs/var/azureml-app/code/utils"))
        let repack = try run("umoci", ["repack", "--image", "\(out.file("layout")):v2", out.file("bundle")])
        #expect(repack.status == 0, "\(repack.stderr)")
        let diff = try KilnBinary.run(["diff", "oci:\(out.file("layout")):v1", "oci:\(out.file("layout")):v2"])
        let lines = diff.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("- /var/azureml-app/code/utils"))
        #expect(lines.contains("- /var/azureml-app/code/utils/helpers.py"))
        #expect(lines.contains("- /var/azureml-app/code/utils/current.py"))
        #expect(!lines.contains { $0.contains("score.py") })
    }

    @Test func opaqueDirectoriesHideLowerLayers() throws {
        let directory = try TemporaryDirectory()
        func layer(_ name: String, _ entries: [(String, String?)]) throws -> String {
            let path = directory.file(name)
            let tar = try TarWriter(sink: try FileSink(path: path), mtime: 0)
            for (member, contents) in entries {
                if let contents {
                    try tar.addFile(path: member, mode: 0o644, size: Int64(contents.utf8.count)) { write in
                        try Data(contents.utf8).withUnsafeBytes { try write($0) }
                    }
                } else {
                    try tar.addHeaderOnly(LayerEntry(path: member, kind: .directory, mode: 0o755))
                }
            }
            try tar.finish()
            return path
        }
        var tree = Filesystem()
        try tree.apply(layerAt: layer("lower", [("etc", nil), ("etc/a", "1"), ("etc/b", "2"), ("keep", "k")]))
        try tree.apply(layerAt: layer("upper", [("etc", nil), ("etc/.wh..wh..opq", ""), ("etc/c", "3"), (".wh.keep", "")]))
        #expect(tree.nodes.keys.sorted() == ["/etc", "/etc/c"])
    }

    @Test func inspectReportsManifestDigestAndLayers() throws {
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        let built = try KilnBinary.build(fixture.standardArguments + ["--output", "oci:\(out.file("img")):t"])
        let inspect = try KilnBinary.run(["inspect", "oci:\(out.file("img")):t"])
        #expect(inspect.status == 0)
        #expect(inspect.stdout.contains(#""manifestDigest" : "\#(built.manifestDigest)""#))
        for layer in built.layers { #expect(inspect.stdout.contains(layer.digest)) }
        let missing = try KilnBinary.run(["inspect", "oci:\(out.file("img")):nope"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("no image tagged 'nope'"))
    }

    @Test func buildsOnABaseAndAddsTagsToAnExistingLayout() throws {
        let fixture = try Fixture()
        let out = try TemporaryDirectory("out")
        let base = try KilnBinary.build(["--base", "scratch", "--add", "\(fixture.root.file("code")):/base-files", "--env", "PATH=/usr/bin",
                                   "--output", "oci:\(out.file("layout")):base"])
        let derived = try KilnBinary.build(fixture.standardArguments.map { $0 == "scratch" ? "oci:\(out.file("layout")):base" : $0 }
                                     + ["--output", "oci:\(out.file("layout")):derived"])
        #expect(derived.layers.first?.digest == base.layers.first?.digest)
        #expect(derived.layers.count == base.layers.count + 2)
        let index = try Index.decode(Data(contentsOf: URL(fileURLWithPath: out.file("layout/index.json"))), what: "index")
        #expect(index.manifests.compactMap { $0.annotations?[Descriptor.refNameAnnotation] }.sorted() == ["base", "derived"])
        let inspect = try KilnBinary.run(["inspect", "oci:\(out.file("layout")):derived"])
        #expect(inspect.stdout.contains("PATH=/usr/bin"))
        let validate = try run("oci-image-tool", ["validate", "--type", "image", "--ref", "name=derived", out.file("layout")])
        #expect(validate.status == 0, "\(validate.stdout)")
    }
}
