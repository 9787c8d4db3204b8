import Foundation
import OCI
@testable import Run
import Testing
import TestSupport

@Suite struct RuntimeSpecTests {
    let root = ImageUser.Resolved(user: RuntimeSpec.User(uid: 0, gid: 0), home: "/root")
    let host = HostIdentity(uid: 0, gid: 0)

    @Test func argsAreEntrypointThenCmd() throws {
        var config = ContainerConfig()
        config.entrypoint = ["azmlinfsrv", "--entry_script", "/var/azureml-app/score.py"]
        config.cmd = ["--port", "5001"]
        config.workingDir = "/var/azureml-app"
        let spec = try RuntimeSpec(config: config, user: root, host: host)
        #expect(spec.process.args == ["azmlinfsrv", "--entry_script", "/var/azureml-app/score.py", "--port", "5001"])
        #expect(spec.process.cwd == "/var/azureml-app")
        #expect(spec.process.terminal == false)
        config.entrypoint = nil
        #expect(try RuntimeSpec(config: config, user: root, host: host).process.args == ["--port", "5001"])
        config.cmd = []
        let error = try #require(throws: RunError.self) { try RuntimeSpec(config: config, user: root, host: host) }
        #expect(error.description == "the image cannot be run: it has no Entrypoint or Cmd, so there is nothing to start; set one when building it")
        #expect(throws: RunError.self) { try RuntimeSpec(config: nil, user: root, host: host) }
    }

    @Test func envGetsADefaultPathAndHome() throws {
        var config = ContainerConfig()
        config.cmd = ["serve"]
        config.env = ["WORKERS=2"]
        let spec = try RuntimeSpec(config: config, user: root, host: host)
        #expect(spec.process.env == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "WORKERS=2", "HOME=/root"])
        #expect(spec.process.cwd == "/")
        config.env = ["PATH=/opt/conda/bin:/usr/bin", "HOME=/app"]
        #expect(try RuntimeSpec(config: config, user: root, host: host).process.env == ["PATH=/opt/conda/bin:/usr/bin", "HOME=/app"])
    }

    @Test func usersResolveAgainstTheImagesPasswdAndGroup() throws {
        let passwd = "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1000:App:/home/app:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n"
        let group = "root:x:0:\nstaff:x:50:app\napp:x:1000:\ndocker:x:999:app,other\n"
        func resolve(_ user: String?) throws -> ImageUser.Resolved { try ImageUser.resolve(user, passwd: passwd, group: group) }
        #expect(try resolve(nil) == ImageUser.Resolved(user: .init(uid: 0, gid: 0), home: "/root"))
        #expect(try resolve("app") == ImageUser.Resolved(user: .init(uid: 1000, gid: 1000, additionalGids: [50, 999]), home: "/home/app"))
        #expect(try resolve("1000").user == .init(uid: 1000, gid: 1000, additionalGids: [50, 999]))
        #expect(try resolve("4242") == ImageUser.Resolved(user: .init(uid: 4242, gid: 0), home: nil))
        #expect(try resolve("1000:50").user == .init(uid: 1000, gid: 50))
        #expect(try resolve("app:staff").user == .init(uid: 1000, gid: 50))
        #expect(try resolve("nobody:999").user == .init(uid: 65534, gid: 999))
        let unknown = try #require(throws: RunError.self) { try resolve("ghost") }
        #expect(unknown.description == "the image cannot be run: its user 'ghost' is not in the image's /etc/passwd")
        #expect(throws: RunError.self) { try resolve("app:ghosts") }
        #expect(throws: RunError.self) { try ImageUser.resolve("app", passwd: nil, group: nil) }
        #expect(try ImageUser.resolve("1000:1000", passwd: nil, group: nil).user == .init(uid: 1000, gid: 1000))
    }

    @Test func rootlessSpecMapsTheCallerToRoot() throws {
        var config = ContainerConfig()
        config.cmd = ["serve"]
        let spec = try RuntimeSpec(config: config, user: root, host: HostIdentity(uid: 1000, gid: 100))
        #expect(spec.linux.uidMappings == [RuntimeSpec.IDMapping(containerID: 0, hostID: 1000, size: 1)])
        #expect(spec.linux.gidMappings == [RuntimeSpec.IDMapping(containerID: 0, hostID: 100, size: 1)])
        #expect(spec.linux.namespaces.map(\.type) == ["pid", "ipc", "uts", "mount", "user"])
        #expect(spec.linux.resources == nil)
        #expect(spec.mounts.first { $0.destination == "/sys" }?.options == ["rbind", "nosuid", "noexec", "nodev", "ro"])
        let app = ImageUser.Resolved(user: RuntimeSpec.User(uid: 1000, gid: 1000), home: nil)
        let error = try #require(throws: RunError.self) { try RuntimeSpec(config: config, user: app, host: HostIdentity(uid: 1000, gid: 100)) }
        #expect(error.description.contains("run kiln as root"))
    }

    /// The mounts and namespaces match what `runc spec` writes, less the network namespace.
    @Test(.enabled(if: (try? Runc.locate()) != nil, "runc is not installed"))
    func matchesRuncSpec() throws {
        var config = ContainerConfig()
        config.cmd = ["serve"]
        for rootless in [false, true] {
            let directory = try TemporaryDirectory("runc-spec")
            let made = try run(try Runc.locate().executable, ["spec", "--bundle", directory.path] + (rootless ? ["--rootless"] : []))
            #expect(made.status == 0, "\(made.stderr)")
            let theirs = try JSONDecoder().decode(RuncSpecSubset.self, from: Data(contentsOf: URL(fileURLWithPath: directory.file("config.json"))))
            let ours = try RuntimeSpec(config: config, user: root, host: rootless ? HostIdentity(uid: 1000, gid: 1000) : host)
            #expect(ours.mounts == theirs.mounts)
            #expect(ours.linux.namespaces.map(\.type) == theirs.linux.namespaces.map(\.type).filter { $0 != "network" })
            #expect(ours.linux.maskedPaths == theirs.linux.maskedPaths)
            #expect(ours.linux.readonlyPaths == theirs.linux.readonlyPaths)
            #expect(ours.linux.resources == theirs.linux.resources)
        }
    }

    struct RuncSpecSubset: Decodable {
        struct Linux: Decodable {
            var namespaces: [RuntimeSpec.Namespace]
            var maskedPaths: [String]
            var readonlyPaths: [String]
            var resources: RuntimeSpec.Resources?
        }
        var mounts: [RuntimeSpec.Mount]
        var linux: Linux
    }

    @Test func bundleReadsTheUserFromTheImageAndWritesConfig() throws {
        let directory = try TemporaryDirectory("run-bundle")
        var config = ContainerConfig()
        config.entrypoint = ["/bin/serve"]
        config.user = "app"
        config.workingDir = "/srv/app"
        // /etc is a symlink, as in some distroless images: the passwd file is still read inside the root.
        let image = try testImage([[.dir("private/"), .dir("private/etc/"), .symlink("etc", to: "/private/etc"),
                                    .file("private/etc/passwd", "app:x:1000:2000::/home/app:/bin/sh\n"),
                                    .file("private/etc/group", "app:x:2000:\n")]], config: config, in: directory)
        let bundle = try ContainerBundle.create(at: directory.file("bundle"), image: image, host: HostIdentity(uid: 0, gid: 0))
        #expect(bundle.spec.process.user == RuntimeSpec.User(uid: 1000, gid: 2000))
        #expect(bundle.spec.process.env.contains("HOME=/home/app"))
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: directory.file("bundle/rootfs/srv/app"), isDirectory: &isDirectory) && isDirectory.boolValue)
        let written = try JSONDecoder().decode(RuntimeSpec.self, from: Data(contentsOf: URL(fileURLWithPath: directory.file("bundle/config.json"))))
        #expect(written == bundle.spec)
        #expect(written.root == RuntimeSpec.Root(path: "rootfs", readonly: false))
    }
}
