import Foundation
import OCI
import Pip

/// Runs PEP 517 hooks inside the image being built, under runc: the base image's filesystem, read-only,
/// with the staged environment bound read-only at its prefix, so the interpreter, glibc and compilers are
/// the image's own. The build's workspace is the only writable place (at `/kiln-build`, with a tmpfs
/// `/tmp`), and the container has its own network namespace with no interfaces up: whatever a build
/// downloads must be in its build requirements. Nothing it writes reaches the image except the wheel.
public struct ImageBuildSandbox: BuildRunner {
    /// A directory bound into the container read-only: `source` on this machine at `destination` inside.
    public struct Bind: Sendable {
        public var source: String
        public var destination: String

        public init(source: String, destination: String) {
            self.source = source
            self.destination = destination
        }
    }

    public let interpreter: String
    let rootfs: String
    let directory: String
    let binds: [Bind]
    let runc: Runc

    /// Where the workspace appears inside.
    static let workspacePoint = "/kiln-build"

    public var label: String { "\(interpreter) in the image, under runc" }

    public func mountPoint(of workspace: String) -> String { Self.workspacePoint }

    /// Unpacks `baseLayers` (local layer blobs, oldest first) into `directory/rootfs`, and checks that
    /// `interpreter` (an image path) is there, in a layer or a bound directory.
    public static func create(baseLayers: [String], binds: [Bind], interpreter: String, at directory: String) throws -> ImageBuildSandbox {
        guard !baseLayers.isEmpty else {
            throw PipError.build("building it in the image needs a C library for \(interpreter), and over scratch the image has none: use a base image with one (such as debian-python), or turn builds off with --no-build")
        }
        let runc: Runc
        do { runc = try Runc.locate() } catch {
            throw PipError.build("building a source distribution inside the image needs runc, which is not on PATH: install it (apt-get install runc), or turn builds off with --no-build")
        }
        let rootfs = directory + "/rootfs"
        do {
            try FileManager.default.createDirectory(atPath: rootfs, withIntermediateDirectories: true)
            let unpacker = try LayerUnpacker(rootPath: rootfs)
            for (number, layer) in baseLayers.enumerated() { try unpacker.apply(layerAt: layer, name: "base layer \(number + 1)") }
            try unpacker.finish()
            for point in binds.map(\.destination) + [workspacePoint, "/tmp"] {
                _ = try unpacker.root.directory(point.split(separator: "/").map(String.init), create: true)
            }
        } catch let error as PipError {
            throw error
        } catch {
            throw PipError.build("cannot lay out the image for a build: \(error)")
        }
        let sandbox = ImageBuildSandbox(interpreter: interpreter, rootfs: rootfs, directory: directory, binds: binds, runc: runc)
        guard sandbox.hostPath(of: interpreter).map(FileManager.default.isExecutableFile(atPath:)) ?? false else {
            throw PipError.build("building a source distribution inside the image needs its python at \(interpreter), and the image has none there")
        }
        return sandbox
    }

    /// Where an image path is on this machine (through a bind when one covers it). Symlinks inside the
    /// image are not followed: the check only needs the interpreter the environment installed.
    func hostPath(of path: String) -> String? {
        for bind in binds where path == bind.destination || path.hasPrefix(bind.destination.hasSuffix("/") ? bind.destination : bind.destination + "/") {
            return bind.source + path.dropFirst(bind.destination.count)
        }
        var resolved = rootfs + path
        var info = stat()
        // A symlink in the image (python3 -> python3.11) resolves within rootfs.
        for _ in 0..<8 where lstat(resolved, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: resolved) else { break }
            resolved = target.hasPrefix("/") ? rootfs + target : (resolved as NSString).deletingLastPathComponent + "/" + target
        }
        return resolved
    }

    public func run(hook: String, workspace: String, environment: [String: String], log: String, timeout: Duration) async throws -> Subprocess.Outcome {
        let bundle = directory + "/bundle-\(UUID().uuidString)"
        let state = directory + "/state"
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        try spec(hook: hook, workspace: workspace, environment: environment).write(to: URL(fileURLWithPath: bundle + "/config.json"))
        let id = Container.newID()
        let outcome: Subprocess.Outcome
        do {
            outcome = try await Subprocess.run([runc.executable, "--root", state, "run", "--bundle", bundle, id],
                                               environment: ["PATH": RuntimeSpec.defaultPath], log: log, timeout: timeout)
        } catch {
            runc.command(["delete", "--force", id], stateRoot: state)
            throw error
        }
        // After a timeout runc is gone but the container may not be; delete --force kills what is left.
        runc.command(["delete", "--force", id], stateRoot: state)
        return outcome
    }

    /// The runtime config for one hook: root in the image, read-only root, binds, no network.
    func spec(hook: String, workspace: String, environment: [String: String]) throws -> Data {
        var config = ContainerConfig()
        config.entrypoint = [interpreter, "-I", "-S", Self.workspacePoint + "/hooks.py", hook]
        config.env = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        config.workingDir = Self.workspacePoint
        let user = try ImageUser.resolve(nil, passwd: nil, group: nil)
        var spec = try RuntimeSpec(config: config, user: user, host: .current)
        spec.root = RuntimeSpec.Root(path: rootfs, readonly: true)
        spec.hostname = "kiln-build"
        spec.mounts.append(RuntimeSpec.Mount(destination: Self.workspacePoint, type: "bind", source: workspace, options: ["rbind", "rw"]))
        for bind in binds {
            spec.mounts.append(RuntimeSpec.Mount(destination: bind.destination, type: "bind", source: bind.source, options: ["rbind", "ro"]))
        }
        spec.mounts.append(RuntimeSpec.Mount(destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"]))
        spec.linux.namespaces.append(RuntimeSpec.Namespace(type: "network"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(spec)
    }
}
