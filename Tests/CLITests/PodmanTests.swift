import Foundation
import Testing
import TestSupport

/// Podman from Debian (rootful, runc as its runtime) reads what Kiln writes: it loads the docker-archive and
/// runs it, and pulls the pushed image from a registry and runs that; the config's entrypoint, environment
/// and working directory take effect.
///
/// Podman asks runc for RLIMIT_NOFILE 1048576 by default, over this sandbox's hard limit (20000), and runc
/// may not raise it ("error setting rlimit type 7"); explicit limits under the hard ones avoid that.
///
/// Serialized: both images share their layers, and two podman processes committing the same layer at once
/// race in containers/storage ("creating image …: layer not known"), which failed a CI run.
@Suite(.serialized) struct PodmanTests {
    static let limits = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]

    /// busybox as the image's only program, a script that prints what the config set.
    static func build(_ output: String, _ work: TemporaryDirectory) throws {
        try work.write("app/hello.sh", "#!/bin/busybox sh\necho \"hello $GREETING in $(/bin/busybox pwd)\"\n", mode: 0o755)
        let result = try KilnBinary.run(["build", "--base", "scratch", "--add", "/bin/busybox:/bin/busybox", "--add", "\(work.file("app")):/app",
                                         "--entrypoint", #"["/bin/busybox", "sh", "/app/hello.sh"]"#, "--env", "GREETING=données",
                                         "--workdir", "/app", "--output", output])
        try #require(result.status == 0, "\(result.stderr)")
    }

    static func runImage(_ image: String) throws -> ProcessResult {
        try run("podman", ["run", "--rm", "--runtime", "runc"] + limits + [image])
    }

    @Test func podmanLoadsAndRunsADockerArchive() throws {
        let work = try TemporaryDirectory("podman-archive")
        try Self.build("docker-archive:\(work.file("img.tar")):kiln-test/hello:archive", work)
        let loaded = try run("podman", ["load", "-i", work.file("img.tar")])
        #expect(loaded.status == 0, "\(loaded.stderr)")
        defer { _ = try? run("podman", ["rmi", "-f", "localhost/kiln-test/hello:archive"]) }
        let ran = try Self.runImage("localhost/kiln-test/hello:archive")
        #expect(ran.status == 0, "\(ran.stderr)")
        #expect(ran.stdout == "hello données in /app\n", "\(ran.stdout)")
    }

    @Test func podmanPullsFromARegistryAndRuns() throws {
        let registry = try TestRegistry()
        let work = try TemporaryDirectory("podman-pull")
        let reference = "\(registry.host)/kiln-test/hello:pushed"
        try Self.build(reference, work)
        let pulled = try run("podman", ["pull", "--tls-verify=false", reference])
        #expect(pulled.status == 0, "\(pulled.stderr)")
        defer { _ = try? run("podman", ["rmi", "-f", reference]) }
        let ran = try Self.runImage(reference)
        #expect(ran.status == 0, "\(ran.stderr)")
        #expect(ran.stdout == "hello données in /app\n", "\(ran.stdout)")
    }
}
