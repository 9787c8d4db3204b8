import Foundation
import OCI

/// An OCI 1.1 artifact attached to an image, as an SBOM or a signature is: one blob of `artifactType`,
/// an empty config, and the image's manifest as its `subject`, so that tools find it through the
/// registry's referrers API (or the `sha256-<digest>` tag fallback) and in a layout's index.
public struct Artifact: Sendable {
    /// The artifact's type, also its blob's media type: `application/spdx+json`.
    public var artifactType: String
    /// The blob's bytes.
    public var data: Data

    public init(artifactType: String, data: Data) {
        self.artifactType = artifactType
        self.data = data
    }

    /// The empty config every artifact manifest points to: `{}`.
    public static let emptyConfig = Data("{}".utf8)
    static let emptyMediaType = "application/vnd.oci.empty.v1+json"

    var blobDescriptor: Descriptor { Descriptor(mediaType: artifactType, digest: Digest.sha256(of: data), size: Int64(data.count)) }
    static var emptyDescriptor: Descriptor { Descriptor(mediaType: emptyMediaType, digest: Digest.sha256(of: emptyConfig), size: 2) }

    /// The manifest's bytes, canonical, for `subject`.
    func manifestData(subject: Descriptor) throws -> Data {
        var manifest = Manifest(config: Self.emptyDescriptor, layers: [blobDescriptor])
        manifest.artifactType = artifactType
        var subject = subject
        subject.annotations = nil
        subject.platform = nil
        manifest.subject = subject
        return try CanonicalJSON.encode(manifest)
    }

    /// The descriptor an index lists it under.
    func descriptor(manifest: Data) -> Descriptor {
        Descriptor(mediaType: MediaType.ociManifest, digest: Digest.sha256(of: manifest), size: Int64(manifest.count), artifactType: artifactType)
    }
}

extension ImageSink {
    /// Sinks that cannot hold artifacts (a docker-archive) attach nothing and say so with nil.
    public func attach(_ artifact: Artifact, to image: Image) async throws -> Descriptor? { nil }
}
