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
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return nil
        default:
            throw await failure(response, method: "GET", url: path)
        }
    }
}
