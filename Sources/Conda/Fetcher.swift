import AsyncHTTPClient
import Archive
import Foundation
import HTTP
import NIOCore
import OCI

/// Reads channel files from `file://` and `https://` URLs. HTTP answers go through `HTTPCache` under
/// `cacheDirectory/http` (revalidated, retried by `RetryPolicy`); packages are cached by content (their
/// sha256), so a second build downloads nothing.
public struct Fetcher: Sendable {
    public let cacheDirectory: URL
    public let http: HTTPClient

    public init(cacheDirectory: URL, http: HTTPClient) {
        self.cacheDirectory = cacheDirectory
        self.http = http
    }

    /// `$KILN_CACHE_DIR`, else `$XDG_CACHE_HOME/kiln`, else `~/.cache/kiln`.
    public static var defaultCacheDirectory: URL {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["KILN_CACHE_DIR"], !explicit.isEmpty { return URL(fileURLWithPath: explicit) }
        let base = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache")
        return URL(fileURLWithPath: base).appendingPathComponent("kiln")
    }

    /// The largest repodata Kiln reads, compressed or not. conda-forge's biggest subdir is about 300 MB
    /// of JSON; an answer past this is refused rather than read.
    public static let maxRepodataSize = 1 << 30
    /// The largest package archive Kiln downloads when the channel does not give its size.
    public static let maxPackageSize: Int64 = 8 << 30

    /// The bytes at `url` (at most `limit`), or nil when it does not exist (404, or no such file).
    public func data(_ url: String, limit: Int = Fetcher.maxRepodataSize) async throws -> Data? {
        if url.hasPrefix("file://") {
            return FileManager.default.contents(atPath: Self.path(fromFileURL: url))
        }
        guard url.hasPrefix("https://") || url.hasPrefix("http://127.") || url.hasPrefix("http://localhost") else {
            throw CondaError.repodata("\(url): only https:// and file:// channels are allowed")
        }
        let cache = HTTPCache(directory: cacheDirectory.appendingPathComponent("http"))
        let answer: HTTPCache.Answer
        do {
            answer = try await cache.get(HTTPClientRequest(url: url), key: HTTPCache.key(url), client: http, limit: limit,
                                         progress: "fetch \(SafeURL(url))")
        } catch {
            throw CondaError.repodata("cannot reach \(SafeURL(url)): \(HTTPError.explain(error))")
        }
        switch answer {
        case let .body(data, _): return data
        case .notFound: return nil
        case let .status(code): throw CondaError.repodata("\(SafeURL(url)) answered \(code)")
        }
    }

    /// A verified archive in the cache, with the hashes it was verified by.
    public struct FetchedPackage: Sendable {
        public var url: URL
        public var sha256: String
        public var md5: String
        public var size: Int64
    }

    /// The package archive for `record` in the content-addressed cache, downloaded if needed, and
    /// verified either way (a cached file may have been changed since).
    public func package(_ record: PackageRecord) async throws -> FetchedPackage {
        let directory = cacheDirectory.appendingPathComponent("pkgs")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let suffix = record.fileName.hasSuffix(".conda") ? ".conda" : ".tar.bz2"
        let key = record.sha256 ?? record.md5 ?? Digest.sha256(of: Data(record.url.utf8)).encoded
        let cached = directory.appendingPathComponent(key + suffix)
        if FileManager.default.fileExists(atPath: cached.path), let hashes = try? verify(cached, record) {
            return FetchedPackage(url: cached, sha256: hashes.sha256, md5: hashes.md5, size: hashes.size)
        }
        return try await store(record, at: cached)
    }

    /// Downloads (or copies) `record`'s archive beside `cached`, verifies it, and puts it at `cached`.
    func store(_ record: PackageRecord, at cached: URL) async throws -> FetchedPackage {
        let temporary = cached.deletingLastPathComponent().appendingPathComponent(".\(UUID().uuidString).part")
        defer { try? FileManager.default.removeItem(at: temporary) }
        // Hashed as it is copied or downloaded: a second read of the archive was a tenth of a small cold install.
        let hashes: (sha256: String, md5: String, size: Int64)
        if record.url.hasPrefix("file://") {
            let source = Self.path(fromFileURL: record.url)
            guard let input = FileHandle(forReadingAtPath: source) else { throw CondaError.package("\(record.url) does not exist") }
            defer { try? input.close() }
            let output = try Self.create(temporary)
            defer { try? output.close() }
            var hasher = ArchiveHasher()
            do {
                while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
                    hasher.update(chunk)
                    try output.write(contentsOf: chunk)
                }
            } catch {
                throw CondaError.package("cannot copy \(source) into the cache: \(error.localizedDescription)")
            }
            hashes = hasher.finalize()
        } else {
            hashes = try await download(record.url, to: temporary, limit: record.size ?? Self.maxPackageSize)
        }
        try check(hashes, record)
        // rename(2) replaces a copy another build stored meanwhile in one step. A remove, then a move, left a
        // moment with no file, and a build reading that copy then failed to open it (seen in ConcurrencyTests).
        guard rename(temporary.path, cached.path) == 0 else {
            throw CondaError.package("cannot store \(cached.path): \(String(cString: strerror(errno)))")
        }
        return FetchedPackage(url: cached, sha256: hashes.sha256, md5: hashes.md5, size: hashes.size)
    }

    /// Streams `url` into `file`, at most `limit` bytes (the size the channel declares), paced (`Pace`),
    /// retried as `RetryPolicy` says; returns the hashes of what it wrote.
    func download(_ url: String, to file: URL, limit: Int64) async throws -> (sha256: String, md5: String, size: Int64) {
        guard url.hasPrefix("https://") || url.hasPrefix("http://127.") || url.hasPrefix("http://localhost") else {
            throw CondaError.package("\(SafeURL(url)): only https:// and file:// packages are allowed")
        }
        do {
            var request = HTTPClientRequest(url: url)
            request.headers.replaceOrAdd(name: "User-Agent", value: KilnVersion.userAgent)
            let sending = request
            let response = try await RetryPolicy.standard.send { _ in try await http.execute(sending, timeout: Pace.current.timeAmount) }
            guard response.status == .ok else {
                await response.body.discard(from: url)
                throw CondaError.package("\(SafeURL(url)) answered \(response.status.code)")
            }
            try response.refuseDeclaredLength(over: Int(clamping: limit), from: url)
            let handle = try Self.create(file)
            defer { try? handle.close() }
            var hasher = ArchiveHasher()
            try await response.body.forEach(upTo: limit, from: url) { buffer in
                try buffer.withUnsafeReadableBytes { bytes in
                    hasher.update(bytes)
                    try handle.write(contentsOf: bytes)
                }
            }
            return hasher.finalize()
        } catch let error as CondaError {
            throw error
        } catch {
            throw CondaError.package("cannot download \(SafeURL(url)): \(HTTPError.explain(error))")
        }
    }

    /// Checks the archive's sha256 (or md5 when the record has no sha256) and size; returns its hashes.
    @discardableResult
    func verify(_ file: URL, _ record: PackageRecord) throws -> (sha256: String, md5: String, size: Int64) {
        let hashes = try Self.hashes(file.path)
        try check(hashes, record)
        return hashes
    }

    /// Checks `hashes` of an archive against what the channel says of `record`.
    func check(_ hashes: (sha256: String, md5: String, size: Int64), _ record: PackageRecord) throws {
        let (sha256, md5, size) = hashes
        if let expected = record.sha256 {
            guard expected.lowercased() == sha256 else {
                throw CondaError.package("\(record.fileName): sha256 \(sha256) does not match the expected \(expected)")
            }
        } else if let expected = record.md5 {
            guard expected.lowercased() == md5 else {
                throw CondaError.package("\(record.fileName): md5 \(md5) does not match the expected \(expected)")
            }
        } else {
            throw CondaError.package("\(record.fileName): the channel gives no sha256 or md5 to verify it against")
        }
        if let expectedSize = record.size, expectedSize != size {
            throw CondaError.package("\(record.fileName): \(size) bytes, the channel says \(expectedSize)")
        }
    }

    static func hashes(_ path: String) throws -> (sha256: String, md5: String, size: Int64) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CondaError.package("cannot read \(path)") }
        defer { try? handle.close() }
        var hasher = ArchiveHasher()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(chunk) }
        return hasher.finalize()
    }

    /// A new, empty file at `file`, open for writing.
    static func create(_ file: URL) throws -> FileHandle {
        guard FileManager.default.createFile(atPath: file.path, contents: nil), let handle = FileHandle(forWritingAtPath: file.path) else {
            throw CondaError.package("cannot write \(file.path)")
        }
        return handle
    }

    static func path(fromFileURL url: String) -> String {
        let rest = String(url.dropFirst("file://".count))
        return rest.removingPercentEncoding ?? rest
    }
}

/// The sha256, md5 and size of a package archive, as its bytes go by.
struct ArchiveHasher {
    private var sha256 = DigestCounter()
    private var md5 = MD5Counter()

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        sha256.update(bytes)
        md5.update(bytes)
    }

    mutating func update(_ data: Data) { data.withUnsafeBytes { update($0) } }

    mutating func finalize() -> (sha256: String, md5: String, size: Int64) {
        (sha256.finalize().encoded, md5.finalize(), sha256.count)
    }
}
