import Foundation
import OCI

/// Opens the base image a plan names.
enum BaseResolver {
    static func resolve(_ base: BaseImage, platform wanted: Platform?) throws -> (config: ImageConfiguration, layers: [Layer]) {
        switch base {
        case .scratch:
            return (ImageConfiguration(platform: wanted ?? .host, config: ContainerConfig()), [])
        case let .layout(path, tag):
            let layout = try Layout.open(path)
            let image = try layout.resolveImage(tag: tag, platform: wanted ?? .host)
            if let wanted, !image.config.platform.satisfies(wanted) {
                throw BuildError.base("oci:\(path) is \(image.config.platform), not the requested \(wanted)")
            }
            let layers = zip(image.manifest.layers, image.config.rootfs.diffIDs).map { descriptor, diffID in
                Layer(descriptor: ociLayerDescriptor(descriptor), diffID: diffID,
                      blobPath: layout.blobURL(descriptor.digest).path, uncompressedSize: nil)
            }
            for layer in layers where !FileManager.default.fileExists(atPath: layer.blobPath) {
                throw BuildError.base("oci:\(path) is missing layer blob \(layer.descriptor.digest)")
            }
            return (image.config, layers)
        case let .registry(reference):
            throw BuildError.base("\(reference) must be pulled before building (RegistryTransfer.pull)")
        }
    }

    /// A base image the caller already has (a registry base), with Docker layer types mapped to OCI.
    static func resolved(_ image: Image) -> (config: ImageConfiguration, layers: [Layer]) {
        (image.config, image.layers.map { layer in
            var copy = layer
            copy.descriptor = ociLayerDescriptor(layer.descriptor)
            return copy
        })
    }

    /// Docker layer media types mapped to their OCI twins (same bytes, same digest), so the
    /// manifest Kiln writes is a consistent OCI manifest.
    static func ociLayerDescriptor(_ descriptor: Descriptor) -> Descriptor {
        var copy = descriptor
        switch descriptor.mediaType {
        case MediaType.dockerLayerGzip: copy.mediaType = MediaType.ociLayerGzip
        case MediaType.dockerLayer: copy.mediaType = MediaType.ociLayer
        case MediaType.dockerForeignLayerGzip: copy.mediaType = MediaType.ociLayerNondistributableGzip
        default: break
        }
        return copy
    }
}
