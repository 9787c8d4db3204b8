import OCI
import AsyncHTTPClient
import Crypto
import Foundation
import HTTP
import NIOCore
import NIOHTTP1

/// Where distributions come from: `--index-url`, `--extra-index-url`, `--find-links`, `--no-index`.
public struct IndexSources: Sendable {
    public static let pypi = "https://pypi.org/simple"
    public var indexURL: String = IndexSources.pypi
    public var extraIndexURLs: [String] = []
    public var findLinks: [String] = []
    public var noIndex = false

    public init(indexURL: String? = nil, extraIndexURLs: [String] = [], findLinks: [String] = [], noIndex: Bool = false) {
        self.indexURL = indexURL ?? Self.pypi
        self.extraIndexURLs = extraIndexURLs
        self.findLinks = findLinks
        self.noIndex = noIndex
    }

    /// The indexes in precedence order (pip merges them all; on equal versions the earlier wins).
    public var indexes: [String] { noIndex ? [] : [indexURL] + extraIndexURLs }
}

/// Reads a Python package index: project pages (PEP 691 JSON or PEP 503 HTML), core metadata (PEP 658
/// `.metadata` files, else the wheel's METADATA through HTTP range requests, else the whole wheel), and
/// wheels, verified by sha256 and cached by it. Pages are cached with their ETag and revalidated.
public actor IndexClient {
    public let sources: IndexSources
    let cacheDirectory: URL
    let http: HTTPClient
    let credentials: IndexCredentials
    let log: @Sendable (String) -> Void
    var pages: [String: Task<[DistributionFile], Error>] = [:]
    var metadataTasks: [String: Task<CoreMetadata, Error>] = [:]
    /// Requests made, by kind, for tests and `--verbose`.
    public private(set) var counters: [String: Int] = [:]

    public init(sources: IndexSources, cacheDirectory: URL, http: HTTPClient,
                netrcPath: String? = IndexCredentials.defaultNetrcPath, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.sources = sources
        self.cacheDirectory = cacheDirectory.appendingPathComponent("pip")
        self.http = http
        credentials = IndexCredentials(indexURLs: sources.indexes + sources.findLinks, netrcPath: netrcPath)
        self.log = log
    }

    // MARK: project pages

    /// Every file any source lists for the project `key` (a normalized name), wheels and sdists alike.
    public func files(_ key: String) async throws -> [DistributionFile] {
        if let task = pages[key] { return try await task.value }
        let task = Task { try await self.loadFiles(key) }
        pages[key] = task
        return try await task.value
    }

    /// Starts fetching a project page without waiting for it.
    public func prefetch(_ key: String) {
        if pages[key] == nil { pages[key] = Task { try await self.loadFiles(key) } }
    }

    func loadFiles(_ key: String) async throws -> [DistributionFile] {
        var result: [DistributionFile] = []
        for (order, index) in sources.indexes.enumerated() {
            result += try await indexPage(index, key: key, order: order)
        }
        for (offset, link) in sources.findLinks.enumerated() {
            result += try await findLinksFiles(link, order: sources.indexes.count + offset).filter { Self.project(of: $0.fileName) == key }
        }
        return result
    }

    /// The normalized project a file name belongs to.
    static func project(of fileName: String) -> String? {
        if let wheel = WheelName(fileName) { return normalizeName(wheel.name) }
        guard isSourceDistribution(fileName) else { return nil }
        let stem = fileName.split(separator: "-").dropLast().joined(separator: "-")
        return stem.isEmpty ? nil : normalizeName(stem)
    }

    func indexPage(_ index: String, key: String, order: Int) async throws -> [DistributionFile] {
        if index.hasPrefix("file://") {
            let root = Self.path(fromFileURL: index)
            let page = root + "/" + key + "/index.html"
            guard let data = FileManager.default.contents(atPath: page) else { return [] }
            return try SimplePage.html(data, pageURL: "file://" + root + "/" + key + "/", order: order)
        }
        let pageURL = index + "/" + key + "/"
        let accept = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
        guard let (data, contentType) = try await cachedGet(pageURL, accept: accept) else { return [] }
        if contentType.contains("application/vnd.pypi.simple.v1+json") {
            return try SimplePage.json(data, pageURL: credentials.prepare(pageURL).url, order: order)
        }
        return try SimplePage.html(data, pageURL: credentials.prepare(pageURL).url, order: order)
    }

    func findLinksFiles(_ link: String, order: Int) async throws -> [DistributionFile] {
        let local = link.hasPrefix("file://") ? Self.path(fromFileURL: link) : link.contains("://") ? nil : link
        if let local {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: local, isDirectory: &isDirectory) else {
                throw PipError.index("--find-links \(local) does not exist")
            }
            if !isDirectory.boolValue {
                return try SimplePage.html(FileManager.default.contents(atPath: local) ?? Data(), pageURL: "file://" + local, order: order)
            }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: local)) ?? []
            return names.sorted().filter { $0.hasSuffix(".whl") || isSourceDistribution($0) }.map {
                DistributionFile(fileName: $0, url: "file://" + local + "/" + $0, sha256: nil, requiresPython: nil,
                                 hasMetadataFile: false, metadataSHA256: nil, yanked: false, sourceOrder: order)
            }
        }
        guard let (data, _) = try await cachedGet(link, accept: "text/html") else {
            throw PipError.index("--find-links \(Redaction.url(link)) was not found (404)")
        }
        return try SimplePage.html(data, pageURL: credentials.prepare(link).url, order: order)
    }

    // MARK: HTTP

    func count(_ kind: String) { counters[kind, default: 0] += 1 }

    func request(_ url: String, headers: [(String, String)] = []) throws -> HTTPClientRequest {
        let (bare, authorization) = credentials.prepare(url)
        guard bare.hasPrefix("https://") || Self.isLoopbackHTTP(bare) else {
            throw PipError.index("\(Redaction.url(url)): only https:// indexes are allowed (and http:// on loopback)")
        }
        var request = HTTPClientRequest(url: bare)
        request.headers.add(name: "User-Agent", value: KilnVersion.userAgent)
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        return request
    }

    static func isLoopbackHTTP(_ url: String) -> Bool {
        ["http://127.", "http://localhost:", "http://localhost/", "http://[::1]"].contains { url.hasPrefix($0) }
    }

    /// Sends `request`, retried as `RetryPolicy` says; transport failures become one `PipError`.
    func execute(_ request: HTTPClientRequest, label: String) async throws -> HTTPClientResponse {
        do {
            return try await RetryPolicy.standard.send({ _ in try await http.execute(request, timeout: Pace.current.timeAmount) },
                                                       log: { [log] line in log("\(label): \(line)") })
        } catch {
            throw PipError.index("cannot reach \(label): \(HTTPError.explain(error))")
        }
    }

    static func failure(_ status: UInt, _ label: String) -> PipError {
        switch status {
        case 401, 403: return .index("\(label) answered \(status): the index refused the credentials (from the URL or netrc), or needs some")
        default: return .index("\(label) answered \(status)")
        }
    }

    /// A page body and content type, revalidated against `HTTPCache`; nil on 404.
    func cachedGet(_ url: String, accept: String) async throws -> (Data, String)? {
        let label = Redaction.url(url)
        let cache = HTTPCache(directory: cacheDirectory.appendingPathComponent("http"))
        count("page")
        log("GET \(label)")
        let answer: HTTPCache.Answer
        do {
            answer = try await cache.get(try request(url, headers: [("Accept", accept)]), key: HTTPCache.key(credentials.prepare(url).url, variant: accept),
                                         client: http, limit: 256 << 20)
        } catch let error as PipError {
            throw error
        } catch {
            throw PipError.index("cannot reach \(label): \(HTTPError.explain(error))")
        }
        switch answer {
        case let .body(data, contentType): return (data, contentType ?? "text/html")
        case .notFound: return nil
        case let .status(code): throw Self.failure(code, label)
        }
    }

    // MARK: metadata

    /// The core metadata of `file`'s distribution: one fetch per file, shared by concurrent callers.
    public func metadata(_ file: DistributionFile) async throws -> CoreMetadata {
        if let task = metadataTasks[file.url] { return try await task.value }
        let task = Task { try await self.loadMetadata(file) }
        metadataTasks[file.url] = task
        return try await task.value
    }

    /// Starts fetching metadata without waiting.
    public func prefetchMetadata(_ file: DistributionFile) {
        if metadataTasks[file.url] == nil { metadataTasks[file.url] = Task { try await self.loadMetadata(file) } }
    }

    func loadMetadata(_ file: DistributionFile) async throws -> CoreMetadata {
        let label = Redaction.url(file.url)
        let directory = cacheDirectory.appendingPathComponent("metadata")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let cached = directory.appendingPathComponent(file.sha256 ?? Self.sha256Hex(Data(file.url.utf8)))
        // A record that does not parse (lost to a power cut) is a miss.
        if file.sha256 != nil, let data = FileManager.default.contents(atPath: cached.path),
           let metadata = try? CoreMetadata(data, source: file.fileName) {
            return metadata
        }
        let data: Data
        if file.url.hasPrefix("file://") {
            data = try await Self.wheelMetadata(try FileByteSource(path: Self.path(fromFileURL: file.url)), file)
        } else if let local = cachedWheel(file) {
            data = try await Self.wheelMetadata(try FileByteSource(path: local), file)
        } else if file.hasMetadataFile, let fetched = try await metadataFile(file) {
            data = fetched
        } else {
            data = try await remoteWheelMetadata(file)
        }
        try RenamedFile.write(data, to: cached.path)
        let metadata = try CoreMetadata(data, source: file.fileName)
        guard normalizeName(metadata.name) == IndexClient.project(of: file.fileName), file.wheel.map({ $0.version == metadata.version }) ?? true else {
            throw PipError.metadata("\(label): its METADATA names \(metadata.name) \(metadata.version), not the file's project and version")
        }
        return metadata
    }

    /// PEP 658: `<url>.metadata`, checked against the hash the index gave; nil if the index lacks it after all.
    func metadataFile(_ file: DistributionFile) async throws -> Data? {
        let url = file.url + ".metadata"
        let label = Redaction.url(url)
        count("metadata")
        log("GET \(label)")
        let response = try await execute(try request(url), label: label)
        guard response.status.code == 200 else {
            await response.body.discard(from: url)
            if response.status.code == 404 { return nil }
            throw Self.failure(response.status.code, label)
        }
        let data = Data((try await response.body.collect(upTo: 64 << 20, from: url)).readableBytesView)
        if let expected = file.metadataSHA256, Self.sha256Hex(data) != expected.lowercased() {
            throw PipError.metadata("\(label): sha256 \(Self.sha256Hex(data)) does not match the index's \(expected)")
        }
        return data
    }

    /// METADATA read out of a remote wheel with range requests: the central directory from the end, then
    /// that one member. A server without range support sends the whole wheel, which is kept.
    func remoteWheelMetadata(_ file: DistributionFile) async throws -> Data {
        let label = Redaction.url(file.url)
        count("range")
        log("GET \(label) (last 64 KiB)")
        let response = try await execute(try request(file.url, headers: [("Range", "bytes=-65557")]), label: label)
        switch response.status.code {
        case 206:
            let tail = Data((try await response.body.collect(upTo: 1 << 20, from: file.url)).readableBytesView)
            guard let range = response.headers.first(name: "Content-Range"), let total = range.split(separator: "/").last.flatMap({ Int64($0) }),
                  total >= Int64(tail.count) else {
                throw PipError.index("\(label): a 206 answer without a usable Content-Range")
            }
            let source = RangeByteSource(client: self, url: file.url, size: total, tail: tail)
            return try await Self.wheelMetadata(source, file)
        case 200:
            let stored = try await store(response, file)
            return try await Self.wheelMetadata(try FileByteSource(path: stored.path), file)
        default:
            await response.body.discard(from: file.url)
            throw Self.failure(response.status.code, label)
        }
    }

    func rangeRead(_ url: String, at offset: Int64, count length: Int) async throws -> Data {
        let label = Redaction.url(url)
        count("range")
        let response = try await execute(try request(url, headers: [("Range", "bytes=\(offset)-\(offset + Int64(length) - 1)")]), label: label)
        guard response.status.code == 206 else {
            await response.body.discard(from: url)
            throw PipError.index("\(label): a range request answered \(response.status.code), not 206")
        }
        let data = Data((try await response.body.collect(upTo: max(length, 1) + 1, from: url)).readableBytesView)
        guard data.count == length else { throw PipError.index("\(label): a range request returned \(data.count) bytes, not \(length)") }
        return data
    }

    /// `<name>.dist-info/METADATA` at the top of a wheel.
    static func wheelMetadata(_ source: any ByteSource, _ file: DistributionFile) async throws -> Data {
        let zip = try await ZipDirectory(source, label: file.fileName)
        let candidates = zip.entries.filter {
            let parts = $0.name.split(separator: "/")
            return parts.count == 2 && parts[0].hasSuffix(".dist-info") && parts[1] == "METADATA"
        }
        guard candidates.count == 1, let entry = candidates.first else {
            throw PipError.wheel("\(file.fileName): \(candidates.isEmpty ? "no" : "more than one") .dist-info/METADATA")
        }
        return try await zip.contents(entry)
    }

    // MARK: wheels

    /// Wheels and sdists share the cache, by sha256, each with its own kind of extension.
    func wheelPath(_ sha256: String, fileName: String) -> String {
        let lower = fileName.lowercased()
        let ext = [".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".zip", ".tar"].first { lower.hasSuffix($0) && WheelName(fileName) == nil } ?? ".whl"
        return cacheDirectory.appendingPathComponent("wheels").appendingPathComponent(sha256 + ext).path
    }

    func cachedWheel(_ file: DistributionFile) -> String? {
        guard let sha256 = file.sha256 else { return nil }
        let path = wheelPath(sha256, fileName: file.fileName)
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// The wheel (or sdist) on disk, verified: against the index's sha256, and against `allowed` (`--hash` or a lock
    /// file) when given. A mismatch removes the download and names both digests.
    public func wheel(_ file: DistributionFile, allowed: Set<String> = []) async throws -> (path: String, sha256: String) {
        if let expected = file.sha256, !allowed.isEmpty, !allowed.contains(expected) {
            throw PipError.wheel("\(file.fileName): the index's sha256 \(expected) is not one the requirements allow (\(allowed.sorted().joined(separator: ", ")))")
        }
        if let cached = cachedWheel(file) {
            if let expected = file.sha256, Self.unchangedSinceVerified(cached) { return (cached, expected) }
            let before = Self.verifiedStamp(cached)
            if let actual = try? Self.sha256File(cached) {
                if actual == file.sha256 {
                    Self.recordVerified(cached, ifStill: before)
                    return (cached, actual)
                }
                try? FileManager.default.removeItem(atPath: cached)
            }
        }
        if file.url.hasPrefix("file://") {
            let path = Self.path(fromFileURL: file.url)
            guard FileManager.default.fileExists(atPath: path) else { throw PipError.wheel("\(path) does not exist") }
            let actual = try Self.sha256File(path)
            try Self.check(actual, file, allowed)
            return (path, actual)
        }
        let label = Redaction.url(file.url)
        count("wheel")
        log("GET \(label)")
        let response = try await execute(try request(file.url), label: label)
        guard response.status.code == 200 else {
            await response.body.discard(from: file.url)
            throw Self.failure(response.status.code, label)
        }
        return try await store(response, file, allowed: allowed)
    }

    /// The largest distribution file Kiln downloads. The biggest wheels on PyPI (CUDA builds of torch) are
    /// under 4 GiB; a larger or endless answer is refused rather than left to fill the disk.
    static let maxDistributionSize = 8 << 30

    /// Streams a 200 answer into the wheel cache, hashing as it writes; only a verified file is kept.
    /// The stored path and the sha256 hashed on the way in (not read again).
    func store(_ response: HTTPClientResponse, _ file: DistributionFile, allowed: Set<String> = []) async throws -> (path: String, sha256: String) {
        let directory = cacheDirectory.appendingPathComponent("wheels")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let temporary = directory.appendingPathComponent(".\(UUID().uuidString).part").path
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        guard FileManager.default.createFile(atPath: temporary, contents: nil), let handle = FileHandle(forWritingAtPath: temporary) else {
            throw PipError.wheel("cannot write to \(directory.path)")
        }
        var hasher = SHA256()
        // The file's stat after its last write: what `recordStored` ties the verified record to.
        var written: stat?
        do {
            try response.refuseDeclaredLength(over: Self.maxDistributionSize, from: file.url)
            try await response.body.forEach(upTo: Self.maxDistributionSize, from: file.url) { buffer in
                buffer.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                try buffer.withUnsafeReadableBytes { try handle.write(contentsOf: $0) }
            }
            var info = stat()
            written = fstat(handle.fileDescriptor, &info) == 0 ? info : nil
            try handle.close()
        } catch {
            try? handle.close()
            if let error = error as? HTTPError { throw PipError.wheel("\(file.fileName): \(error)") }
            throw PipError.wheel("\(Redaction.url(file.url)): download failed: \(error)")
        }
        let actual = hasher.finalize().hexString
        try Self.check(actual, file, allowed)
        let final = wheelPath(actual, fileName: file.fileName)
        // rename(2) replaces a file another build stored meanwhile in one step, so the path never goes missing.
        guard rename(temporary, final) == 0 else { throw PipError.wheel("cannot store \(final): \(String(cString: strerror(errno)))") }
        Self.recordStored(final, written: written)
        return (final, actual)
    }

    static func check(_ actual: String, _ file: DistributionFile, _ allowed: Set<String>) throws {
        if let expected = file.sha256, expected != actual {
            throw PipError.wheel("\(file.fileName): sha256 \(actual) does not match the index's \(expected) (\(Redaction.url(file.url)))")
        }
        if !allowed.isEmpty, !allowed.contains(actual) {
            throw PipError.wheel("\(file.fileName): sha256 \(actual) is not one the requirements allow (\(allowed.sorted().joined(separator: ", ")))")
        }
    }

    static func sha256Hex(_ data: Data) -> String { SHA256.hash(data: data).hexString }

    static func sha256File(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw PipError.wheel("cannot read \(path)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().hexString
    }

    static func path(fromFileURL url: String) -> String {
        let rest = String(url.dropFirst("file://".count))
        return rest.removingPercentEncoding ?? rest
    }
}

/// A remote file read with HTTP range requests; its last 64 KiB, read first, are kept.
struct RangeByteSource: ByteSource {
    let client: IndexClient
    let url: String
    let size: Int64
    let tail: Data

    init(client: IndexClient, url: String, size: Int64, tail: Data) {
        self.client = client
        self.url = url
        self.size = size
        self.tail = tail
    }

    func read(at offset: Int64, count: Int) async throws -> Data {
        let tailStart = size - Int64(tail.count)
        if offset >= tailStart, offset + Int64(count) <= size {
            let start = Int(offset - tailStart)
            return tail.subdata(in: start..<start + count)
        }
        return try await client.rangeRead(url, at: offset, count: count)
    }
}
