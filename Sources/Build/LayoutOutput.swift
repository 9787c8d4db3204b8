import Foundation
import OCI

/// Writes an image into an OCI image layout directory.
///
/// A new directory is assembled beside its final name and renamed into place, so a failure leaves
/// nothing. Into an existing layout, blobs are added first and `index.json` is replaced last, by rename,
/// so readers never see an index that names a missing blob.
public enum LayoutOutput {
    public static func write(_ image: Image, to path: String, tag: String?) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        let exists = fm.fileExists(atPath: path, isDirectory: &isDirectory)
        if exists {
            guard isDirectory.boolValue, let layout = try? Layout.open(path) else {
                throw BuildError.output("\(path) exists and is not an OCI layout")
            }
            try addBlobs(of: image, to: layout)
            var index = try layout.readIndex()
            index.manifests.removeAll { entry in
                tag != nil && entry.annotations?[Descriptor.refNameAnnotation] == tag
            }
            index.manifests.append(entry(for: image, tag: tag))
            try Atomic.write(CanonicalJSON.encode(index), to: layout.root.appendingPathComponent("index.json").path)
            return
        }
        let staging = try Atomic.stagingPath(for: path)
        do {
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: false)
            let layout = Layout(root: URL(fileURLWithPath: staging))
            try Layout.layoutFileContents.write(to: layout.root.appendingPathComponent("oci-layout"))
            try addBlobs(of: image, to: layout)
            let index = Index(manifests: [entry(for: image, tag: tag)])
            try CanonicalJSON.encode(index).write(to: layout.root.appendingPathComponent("index.json"))
            try Atomic.rename(staging, to: path)
        } catch {
            try? fm.removeItem(atPath: staging)
            throw error
        }
    }

    static func entry(for image: Image, tag: String?) -> Descriptor {
        var descriptor = image.manifestDescriptor
        if let tag { descriptor.annotations = [Descriptor.refNameAnnotation: tag] }
        return descriptor
    }

    static func addBlobs(of image: Image, to layout: Layout) throws {
        try FileManager.default.createDirectory(at: layout.root.appendingPathComponent("blobs/sha256"),
                                                withIntermediateDirectories: true)
        for layer in image.layers {
            try Atomic.placeBlob(from: layer.blobPath, at: layout.blobURL(layer.descriptor.digest).path)
        }
        for (data, digest) in [(image.configData, image.manifest.config.digest), (image.manifestData, image.manifestDigest)] {
            let target = layout.blobURL(digest).path
            if !FileManager.default.fileExists(atPath: target) { try Atomic.write(data, to: target) }
        }
    }
}
