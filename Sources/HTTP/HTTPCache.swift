import OCI
import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import Progress

/// Conditional GETs with answers kept on disk: the body as `<key>` and its validators as
/// `<key>.json` (`etag`, `lastModified`, `contentType`). A cached answer is revalidated with
/// `If-None-Match` / `If-Modified-Since`; a `304` serves the body from disk. Conda's repodata and pip's
/// project pages share this one format.
public struct HTTPCache: Sendable {
    /// What the server said, after revalidation.
    public enum Answer: Sendable {
        /// A `200` (stored), or a `304` served from the cache.
        case body(Data, contentType: String?)
        /// `404` or `410`.
        case notFound
        /// Any other status, after the retry policy gave up.
        case status(UInt)
    }

    struct Validators: Codable {
        var etag: String?
        var lastModified: String?
        var contentType: String?
    }

    /// Where bodies and their validators are stored; created on the first store.
    public let directory: URL

    /// A cache kept in `directory`.
    public init(directory: URL) {
        self.directory = directory
    }

    /// The cache key for `url` fetched with `variant` (an Accept header, say): a SHA-256, so that
    /// credentials in the URL never reach a file name.
    public static func key(_ url: String, variant: String = "") -> String {
        SHA256.hash(data: Data((url + "\n" + variant).utf8)).hexString
    }

    /// GETs `request` (made with the validators' headers), retried by `policy`, and returns the body from
    /// the network or, on `304`, from disk. Bodies over `limit` bytes are refused, and a body is paced
    /// (`Pace`). `timeout` bounds the wait for the answer's head. A `progress` title makes a new body's
    /// download a progress step.
    public func get(_ request: HTTPClientRequest, key: String, client: HTTPClient, policy: RetryPolicy = .standard,
                    limit: Int, timeout: TimeAmount = Pace.current.timeAmount, progress: String? = nil) async throws -> Answer {
        let body = directory.appendingPathComponent(key)
        let meta = directory.appendingPathComponent(key + ".json")
        let cached = FileManager.default.fileExists(atPath: body.path)
            ? (try? Data(contentsOf: meta)).flatMap { try? JSONDecoder().decode(Validators.self, from: $0) } : nil
        var request = request
        request.headers.replaceOrAdd(name: "User-Agent", value: KilnVersion.userAgent)
        if let etag = cached?.etag { request.headers.replaceOrAdd(name: "If-None-Match", value: etag) }
        if let date = cached?.lastModified { request.headers.replaceOrAdd(name: "If-Modified-Since", value: date) }
        let sending = request
        let response = try await policy.send { _ in try await client.execute(sending, timeout: timeout) }
        switch response.status.code {
        case 304:
            await response.body.discard(from: request.url)
            guard let cached, let data = try? Data(contentsOf: body, options: .alwaysMapped) else { return .status(304) }
            return .body(data, contentType: cached.contentType)
        case 200:
            try response.refuseDeclaredLength(over: limit, from: request.url)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let temporary = directory.appendingPathComponent(".\(UUID().uuidString).part")
            defer { try? FileManager.default.removeItem(at: temporary) }
            // Streamed to disk, so memory stays flat however large the answer is until `limit` ends it.
            guard FileManager.default.createFile(atPath: temporary.path, contents: nil),
                  let handle = FileHandle(forWritingAtPath: temporary.path) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: directory.path])
            }
            let declared = response.headers.first(name: "Content-Length").flatMap(Int64.init)
            let step = progress.map { Progress.start($0, total: declared) }
            do {
                try await response.body.forEach(upTo: limit, from: request.url) { buffer in
                    try buffer.withUnsafeReadableBytes { try handle.write(contentsOf: $0) }
                    step?.advance(by: Int64(buffer.readableBytes))
                }
                try handle.close()
                step?.finish()
            } catch {
                try? handle.close()
                step?.fail()
                throw error
            }
            let validators = Validators(etag: response.headers.first(name: "ETag"), lastModified: response.headers.first(name: "Last-Modified"),
                                        contentType: response.headers.first(name: "Content-Type"))
            // Read before the rename, which replaces any entry atomically: another process may replace or
            // refresh the same key at the same moment, so the path is not read again.
            let data = try Data(contentsOf: temporary, options: .alwaysMapped)
            guard rename(temporary.path, body.path) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: body.path])
            }
            try RenamedFile.write(JSONEncoder().encode(validators), to: meta.path)
            return .body(data, contentType: validators.contentType)
        case 404, 410:
            await response.body.discard(from: request.url)
            return .notFound
        default:
            await response.body.discard(from: request.url)
            return .status(response.status.code)
        }
    }
}
