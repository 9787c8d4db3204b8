import Foundation
import Images
import OCI

/// An OCI runtime bundle: `PATH/rootfs` with the image's layers applied, and `PATH/config.json`.
public struct ContainerBundle: Sendable {
    /// The bundle directory, given to `runc run --bundle`.
    public var path: String
    /// The runtime config written to `config.json`.
    public var spec: RuntimeSpec

    /// The root filesystem directory.
    public var rootfs: String { path + "/rootfs" }

    /// Makes the bundle at `path` (which must not exist) for `image`, whose layers must be on this
    /// machine (download remote ones with `RegistrySession.downloaded` first). `host` decides between
    /// a root and a rootless config, and whether file owners are kept.
    public static func create(at path: String, image: Image, host: HostIdentity = .current,
                              log: @Sendable (String) -> Void = { _ in }) throws -> ContainerBundle {
        do {
            try FileManager.default.createDirectory(atPath: path + "/rootfs", withIntermediateDirectories: true)
        } catch {
            throw RunError.runtime("cannot create the bundle directory \(path): \(error.localizedDescription)")
        }
        let unpacker: LayerUnpacker
        do {
            unpacker = try LayerUnpacker(rootPath: path + "/rootfs", preserveOwners: !host.rootless)
        } catch {
            throw RunError.runtime("cannot open the bundle's rootfs: \(error)")
        }
        for (number, layer) in image.layers.enumerated() {
            let name = layer.descriptor.digest.description
            log("unpacking layer \(number + 1)/\(image.layers.count) \(name)")
            let file: String
            do { file = try layer.localPath() } catch { throw RunError.unpack(layer: name, detail: "\(error)") }
            try unpacker.apply(layerAt: file, name: name)
        }
        do {
            try unpacker.finish()
        } catch {
            throw RunError.runtime("cannot set the directory modes in \(path)/rootfs: \(error)")
        }
        let root = unpacker.root
        let config = image.config.config
        let user = try ImageUser.resolve(config?.user, passwd: try text(root, "etc/passwd"), group: try text(root, "etc/group"))
        let spec = try RuntimeSpec(config: config, user: user, host: host)
        // Docker makes a missing WorkingDir; runc would refuse to start in it.
        do {
            _ = try root.directory(spec.process.cwd.split(separator: "/").map(String.init), create: true)
        } catch {
            throw RunError.notRunnable("its working directory \(spec.process.cwd): \(error)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            try encoder.encode(spec).write(to: URL(fileURLWithPath: path + "/config.json"))
        } catch {
            throw RunError.runtime("cannot write \(path)/config.json: \(error.localizedDescription)")
        }
        return ContainerBundle(path: path, spec: spec)
    }

    private static func text(_ root: RootDirectory, _ path: String) throws -> String? {
        do {
            return try root.readFile(path.split(separator: "/").map(String.init)).map { String(decoding: $0, as: UTF8.self) }
        } catch {
            throw RunError.notRunnable("cannot read its /\(path): \(error)")
        }
    }
}
