import Foundation
import OCI

/// A blob to push: its descriptor and where its bytes are (a file, or small JSON in memory).
public struct BlobSource: Sendable {
    public var descriptor: Descriptor
    public var path: String?
    public var data: Data?

    public init(descriptor: Descriptor, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    public init(descriptor: Descriptor, data: Data) {
        self.descriptor = descriptor
        self.data = data
    }
}

/// What a push did, for reporting and for tests that count uploads.
public struct PushReport: Sendable, Equatable {
    public var uploaded: [Digest] = []
    public var mounted: [Digest] = []
    public var existing: [Digest] = []
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
        try await withThrowingTaskGroup(of: (Digest, Int).self) { group in
            var next = 0
            func start() {
                guard next < ordered.count else { return }
                let blob = ordered[next]
                next += 1
                group.addTask { (blob.descriptor.digest, try await self.pushBlob(repository, blob, mountFrom: mountFrom)) }
            }
            for _ in 0..<max(1, concurrency) { start() }
            while let (digest, outcome) = try await group.next() {
                switch outcome {
                case 0: report.existing.append(digest)
                case 1: report.mounted.append(digest)
                default: report.uploaded.append(digest)
                }
                start()
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
        if let mountFrom, mountFrom != repository, try await mountBlob(repository, digest: digest, from: mountFrom) { return 1 }
        if let path = blob.path {
            try await uploadBlob(repository, digest: digest, size: blob.descriptor.size, from: path)
        } else if let data = blob.data {
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-blob-\(UUID().uuidString)")
            try data.write(to: scratch)
            defer { try? FileManager.default.removeItem(at: scratch) }
            try await uploadBlob(repository, digest: digest, size: Int64(data.count), from: scratch.path)
        }
        return 2
    }
}
