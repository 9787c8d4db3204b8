import BuildImage
import Foundation
import Testing

/// Builds an image through the library and has umoci, an independent reader, unpack it.
@Test func buildsAnImageUmociCanUnpack() async throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("build-image-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    try FileManager.default.createDirectory(at: root.appendingPathComponent("model"), withIntermediateDirectories: true)
    try Data("weights".utf8).write(to: root.appendingPathComponent("model/model.pkl"))
    try Data("def init(): pass\ndef run(x): return x\n".utf8).write(to: root.appendingPathComponent("score.py"))
    let result = try await buildScoringImage(model: root.appendingPathComponent("model").path, script: root.appendingPathComponent("score.py").path,
                                             layout: root.appendingPathComponent("layout").path)
    #expect(result.layers.count == 2)

    let umoci = Process()
    umoci.executableURL = URL(fileURLWithPath: "/usr/bin/umoci")
    umoci.arguments = ["raw", "unpack", "--rootless", "--image", root.appendingPathComponent("layout").path + ":1", root.appendingPathComponent("rootfs").path]
    try umoci.run()
    umoci.waitUntilExit()
    #expect(umoci.terminationStatus == 0)
    let unpacked = root.appendingPathComponent("rootfs/var/azureml-app")
    #expect(FileManager.default.fileExists(atPath: unpacked.appendingPathComponent("azureml-models/churn/3/model/model.pkl").path))
    #expect(try String(contentsOf: unpacked.appendingPathComponent("score.py"), encoding: .utf8).contains("def run"))
}
