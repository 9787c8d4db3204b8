import AsyncHTTPClient
import Foundation
import HTTP
import OCI

extension RegistryClient {
    /// The referrers of `digest` (OCI distribution 1.1, `GET /v2/<name>/referrers/<digest>`), or nil when
    /// the registry has no referrers API (404, as distribution 2.8.2 answers): then clients use the
    /// `sha256-<hex>` tag fallback.
    public func referrers(_ repository: String, digest: Digest) async throws -> Index? {
        let path = url("/v2/\(repository)/referrers/\(digest)")
        let response = try await send([.pull(repository)]) { HTTPClientRequest(url: path) }
        switch response.status {
        case .ok:
            let body = try await response.body.collect(upTo: Layout.maxJSONBlobSize, from: path)
            return try Index.decode(Data(body.readableBytesView), what: "referrers of \(registry)/\(repository)@\(digest)")
        case .notFound:
            await response.body.discard(from: path)
            return nil
        default:
            throw await failure(response, method: "GET", url: path)
        }
    }

    /// The OCI tag-schema fallback for registries without the referrers API: `sha256-<hex of the subject>`.
    public static func referrersTag(for subject: Digest) -> String { "sha256-\(subject.encoded)" }

    /// The index under `subject`'s fallback tag, or an empty one when the tag does not exist yet.
    public func fallbackReferrers(_ repository: String, subject: Digest) async throws -> Index {
        let tag = Self.referrersTag(for: subject)
        guard try await manifestDigest(repository, reference: tag) != nil else { return Index(manifests: []) }
        return try Index.decode(try await manifest(repository, reference: tag).data, what: "referrers tag \(tag)")
    }
}
