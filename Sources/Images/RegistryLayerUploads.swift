import Archive
import Foundation
import OCI
import Registry

/// New layers streamed into a registry repository while they are written, one `StreamedUpload` each,
/// for `RegistrySink`: its `write` waits for them (`settle`) and pushes only what did not arrive.
final class RegistryLayerUploads: LayerUploads, @unchecked Sendable {
    let reference: Reference
    let session: RegistrySession
    private let lock = NSLock()
    private var uploads: [(description: String, upload: StreamedUpload)] = []
    private var log: @Sendable (String) -> Void = { _ in }

    init(reference: Reference, session: RegistrySession) {
        self.reference = reference
        self.session = session
    }

    /// Where a stream that failed is told (its layer then goes up from its file).
    func setLog(_ log: @escaping @Sendable (String) -> Void) {
        lock.withLock { self.log = log }
    }

    func open(_ description: String) -> (any LayerStream)? {
        let session = session
        let reference = reference
        let upload = StreamedUpload(repository: reference.repository,
                                    title: "push \(reference.registry)/\(reference.repository) \(description), streamed") {
            try await session.client(for: reference)
        }
        lock.withLock { uploads.append((description, upload)) }
        return upload
    }

    func cancel() {
        for entry in lock.withLock({ uploads }) { entry.upload.cancel() }
    }

    /// Waits for every stream opened so far and forgets them: the digests the registry now has. A stream
    /// that failed for the registry's sake is told in the log; one abandoned with its layer is not.
    func settle() async -> Set<Digest> {
        let (all, log) = lock.withLock {
            defer { uploads = [] }
            return (uploads, self.log)
        }
        var arrived = Set<Digest>()
        for entry in all {
            switch await entry.upload.outcome() {
            case let .success(digest): arrived.insert(digest)
            case .failure(.abandoned), .failure(.cancelled): break
            case let .failure(reason):
                log("note: streaming \(entry.description) to \(reference.registry) failed (\(reason)); it is uploaded from its file")
            }
        }
        return arrived
    }
}
