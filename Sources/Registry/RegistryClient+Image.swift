import Foundation
import HTTP
import OCI

/// A blob to push: its descriptor and where its bytes are.
public struct BlobSource: Sendable {
    public var descriptor: Descriptor
    public var bytes: BlobBytes

    public init(descriptor: Descriptor, path: String) {
        self.descriptor = descriptor
        bytes = .file(path)
    }

    public init(descriptor: Descriptor, data: Data) {
        self.descriptor = descriptor
        bytes = .data(data)
    }

    /// A blob that stays in `repository` of `client`'s registry: mounted when pushing to the same
    /// registry, streamed through otherwise.
    public init(descriptor: Descriptor, remote client: RegistryClient, repository: String) {
        self.descriptor = descriptor
        bytes = .remote(client, repository: repository, digest: descriptor.digest)
    }
}

/// What a push did, for reporting and for tests that count uploads.
public struct PushReport: Sendable, Equatable {
    public var uploaded: [Digest] = []
    public var mounted: [Digest] = []
    public var existing: [Digest] = []

    public init() {}
}

extension RegistryClient {
    /// Pushes an image: each distinct blob once (skipped when present, mounted from `mountFrom` in the
    /// same registry when possible, uploaded otherwise), at most `concurrency` at a time, then the
    /// manifest under every tag. The manifest goes last, so a failed push never leaves a tag that
    /// names missing blobs.
    public func pushImage(_ repository: String, blobs: [BlobSource], manifest: Data, mediaType: String, tags: [String],
                          mountFrom: String? = nil, concurrency: Int = 4) async throws -> PushReport {
        var unique: [Digest: BlobSource] = [:]
        for blob in blobs where unique[blob.descriptor.digest] == nil { unique[blob.descriptor.digest] = blob }
        let ordered = unique.values.sorted { $0.descriptor.digest < $1.descriptor.digest }
        var report = PushReport()
        let outcomes = try await Concurrently.map(ordered, limit: concurrency) { blob in
            try await self.pushBlob(repository, blob, mountFrom: mountFrom)
        }
        for (blob, outcome) in zip(ordered, outcomes) {
            switch outcome {
            case 0: report.existing.append(blob.descriptor.digest)
            case 1: report.mounted.append(blob.descriptor.digest)
            default: report.uploaded.append(blob.descriptor.digest)
            }
        }
        let references = tags.isEmpty ? [Digest.sha256(of: manifest).description] : tags
        for reference in references {
            try await putManifest(repository, reference: reference, data: manifest, mediaType: mediaType)
        }
        report.existing.sort()
        report.mounted.sort()
        report.uploaded.sort()
        return report
    }

    /// 0: already there, 1: mounted, 2: uploaded.
    func pushBlob(_ repository: String, _ blob: BlobSource, mountFrom: String?) async throws -> Int {
        let digest = blob.descriptor.digest
        if try await blobExists(repository, digest: digest, scope: .push(repository)) { return 0 }
        var source = mountFrom
        if case let .remote(client, from, _) = blob.bytes { source = client.registry == registry ? from : nil }
        if let source, source != repository, try await mountBlob(repository, digest: digest, from: source) { return 1 }
        try await uploadBlob(repository, digest: digest, size: blob.descriptor.size, from: blob.bytes)
        return 2
    }
}
