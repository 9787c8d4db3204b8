import Foundation
import Images
import OCI
import Plan
import Testing
import TestSupport

/// The builder and the local sources and sinks, without the library's orchestration.
@Suite struct ImageBuilderTests {
    @Test func buildsOverScratchAndRoundTripsThroughLayoutAndArchive() async throws {
        let work = try TemporaryDirectory("images")
        try work.write("src/a.txt", "a\n")
        try work.write("src/目录/b.txt", "b\n")
        var plan = BuildPlan()
        plan.platform = Platform(os: "linux", architecture: "arm64", variant: "v8")
        plan.layers = [LayerSpec(kind: .files, description: "files", inputs: [LayerInput(source: work.file("src"), destination: "/srv")])]
        plan.config.entrypoint = ["/bin/app"]
        let base = try await ScratchSource().image(platform: plan.platform)
        let image = try ImageBuilder(workDirectory: work.url.appendingPathComponent("blobs-work")).build(plan, base: base)
        #expect(image.config.platform.architecture == "arm64" && image.config.config?.entrypoint == ["/bin/app"])
        #expect(image.layers.count == 1 && image.config.rootfs.diffIDs == image.layers.map(\.diffID))

        let session = RegistrySession()
        _ = try await LayoutSink(path: work.file("layout"), tag: "t", remotes: session).write(image)
        let read = try await LayoutSource(path: work.file("layout"), tag: "t").image(platform: plan.platform)
        #expect(read.manifestDigest == image.manifestDigest)
        _ = try await DockerArchiveSink(path: work.file("image.tar"), reference: nil, mtime: 0, remotes: session).write(image)
        let fromArchive = try await DockerArchiveSource(path: work.file("image.tar"), scratch: work.url.appendingPathComponent("unpack")).image(platform: nil)
        #expect(fromArchive.layers.map(\.diffID) == image.layers.map(\.diffID))
        let tree = try Filesystem(image: fromArchive)
        #expect(tree.nodes["/srv/目录/b.txt"]?.size == 2)
    }

    @Test func aWrongPlatformBaseIsRefused() async throws {
        let work = try TemporaryDirectory("images")
        try work.write("src/a.txt", "a\n")
        var plan = BuildPlan()
        plan.platform = Platform(os: "linux", architecture: "amd64")
        plan.layers = [LayerSpec(kind: .files, description: "files", inputs: [LayerInput(source: work.file("src"), destination: "/srv")])]
        let image = try ImageBuilder(workDirectory: work.url.appendingPathComponent("w")).build(plan, base: try await ScratchSource().image(platform: plan.platform))
        _ = try await LayoutSink(path: work.file("layout"), tag: nil, remotes: RegistrySession()).write(image)
        await #expect(throws: (any Error).self) {
            try await LayoutSource(path: work.file("layout"), tag: nil).image(platform: Platform(os: "linux", architecture: "s390x"))
        }
        #expect(throws: ImageError.self) { try ImageLocation.scratch.sink(session: RegistrySession()) }
    }
}
