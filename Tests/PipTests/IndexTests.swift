import AsyncHTTPClient
import Foundation
import HTTP
@testable import Pip
import Testing
import TestSupport

/// The index client against a loopback index over real PyPI wheels and synthetic ones: both page
/// formats, metadata three ways, credentials, caching, and verification.
@Suite(.serialized) struct IndexTests {
    let cache: TemporaryDirectory

    init() throws { cache = try TemporaryDirectory("pip-cache") }

    func client(_ index: String, netrc: String? = nil, cacheDirectory: URL? = nil, log: @escaping @Sendable (String) -> Void = { _ in }) -> IndexClient {
        IndexClient(sources: IndexSources(indexURL: index), cacheDirectory: cacheDirectory ?? cache.url, http: HTTPClient.shared, netrcPath: netrc, log: log)
    }

    @Test func jsonAndHTMLPagesListTheSameFilesAndMetadataIsTheSameThreeWays() async throws {
        let wheels = try mlWheels()
        let full = try PipIndex(directories: [wheels])
        let html = try PipIndex(directories: [wheels], options: ["--html-only", "--no-metadata"])
        let noRange = try PipIndex(directories: [wheels], options: ["--no-metadata", "--no-range"])
        let fromJSON = try await client(full.url()).files("scikit-learn")
        let fromHTML = try await client(html.url(), cacheDirectory: cache.url.appendingPathComponent("b")).files("scikit-learn")
        #expect(fromJSON.count == 2 && fromJSON.map(\.fileName) == fromHTML.map(\.fileName))
        #expect(fromJSON.map(\.sha256) == fromHTML.map(\.sha256) && fromJSON.allSatisfy { $0.sha256?.count == 64 })
        #expect(fromJSON.map(\.requiresPython) == fromHTML.map(\.requiresPython) && fromJSON[0].requiresPython != nil)
        #expect(fromJSON.allSatisfy(\.hasMetadataFile) && !fromHTML.contains(where: \.hasMetadataFile))

        // PEP 658 file, range requests into the wheel, and a whole download when ranges are refused.
        var results: [[String]] = []
        for (index, label) in [(full, "a"), (html, "b"), (noRange, "c")] {
            let client = client(index.url(), cacheDirectory: cache.url.appendingPathComponent(label))
            let file = try #require(try await client.files("scipy").first)
            let metadata = try await client.metadata(file)
            results.append(metadata.requiresDist.map(\.text))
        }
        #expect(results[0] == results[1] && results[1] == results[2] && !results[0].isEmpty)
        #expect(full.requests().contains { $0.contains(".whl.metadata") })
        let ranged = html.requests().filter { $0.contains("/files/scipy") }
        #expect(!ranged.isEmpty && ranged.allSatisfy { $0.contains("range=bytes=") }, "\(ranged)")
        #expect(noRange.requests().contains { $0.hasPrefix("GET /files/scipy") })
        // The download made for metadata is kept: fetching the wheel costs nothing more.
        let before = noRange.requests().count
        let client = client(noRange.url(), cacheDirectory: cache.url.appendingPathComponent("c"))
        let file = try #require(try await client.files("scipy").first)
        _ = try await client.wheel(file)
        #expect(noRange.requests().count == before + 1, "one page revalidation, no second download")
    }

    @Test func credentialsFromTheURLOrNetrcAndNeverInLogsOrErrors() async throws {
        let index = try PipIndex(directories: [try syntheticWheels() + "/good"], options: ["--auth", "kiln-user:s3cret-Token"])
        let lines = LogLines()
        let withURL = client(index.url(credentials: "kiln-user:s3cret-Token"), log: lines.append)
        let file = try #require(try await withURL.files("alpha").first)
        _ = try await withURL.metadata(file)
        _ = try await withURL.wheel(file)
        #expect(index.requests().allSatisfy { $0.contains("auth=yes") })
        #expect(!lines.all.isEmpty && !lines.all.joined().contains("s3cret") && lines.all.contains { $0.contains("<redacted>@") || $0.contains("/files/") })

        let netrc = try cache.write("netrc", "machine 127.0.0.1\n  login kiln-user\n  password s3cret-Token\n")
        let fromNetrc = client(index.url(), netrc: netrc, cacheDirectory: cache.url.appendingPathComponent("n"))
        #expect(try await fromNetrc.files("beta").count == 2)

        let wrong = client(index.url(credentials: "kiln-user:wrong-Secret"), cacheDirectory: cache.url.appendingPathComponent("w"))
        await #expect { try await wrong.files("beta") } throws: { error in
            let text = "\(error)"
            return text.contains("401") && text.contains("credentials") && !text.contains("wrong-Secret")
        }
        #expect(Redaction.url("https://user:pa55@host.example/simple/x/?sig=abc&se=1#sha256=f") == "https://<redacted>@host.example/simple/x/?<redacted>#sha256=f")
    }

    /// A wheel is hashed as it is downloaded, and its stat recorded beside it at once; while that still matches,
    /// a build takes it without hashing it again. Without a record, a cached wheel is hashed and then recorded once
    /// it is a second old. A wheel rewritten in its place no longer matches: it is hashed, found wrong, and
    /// downloaded anew.
    @Test func aCachedWheelRewrittenInPlaceIsFetchedAgain() async throws {
        let index = try PipIndex(directories: [try syntheticWheels() + "/good"])
        let client = client(index.url(), cacheDirectory: cache.url.appendingPathComponent("verified"))
        let file = try #require(try await client.files("beta").first)
        let first = try await client.wheel(file)
        let downloads = { index.requests().filter { $0.hasPrefix("GET /files/") }.count }
        let before = downloads()
        // Stored by this client: recorded at once, tied to the inode, size and mtime of the file it wrote.
        #expect(FileManager.default.fileExists(atPath: first.path + ".verified"))
        #expect(try await client.wheel(file) == first && downloads() == before, "taken from the cache")
        // No record (a cache filled by an older Kiln): hashed, and recorded once the file is a second old.
        try FileManager.default.removeItem(atPath: first.path + ".verified")
        try await Task.sleep(for: .seconds(2.1))
        let again = try await client.wheel(file)
        #expect(again == first && downloads() == before, "taken from the cache")
        #expect(FileManager.default.fileExists(atPath: first.path + ".verified"), "hashed once more and recorded")
        // Same length, other bytes: the size matches, the times do not.
        let original = try Data(contentsOf: URL(fileURLWithPath: first.path))
        try Data(repeating: 0x5a, count: original.count).write(to: URL(fileURLWithPath: first.path))
        let refetched = try await client.wheel(file)
        #expect(refetched.sha256 == first.sha256 && downloads() == before + 1, "hashed, found wrong, downloaded again")
        #expect(try Data(contentsOf: URL(fileURLWithPath: refetched.path)) == original)
    }

    @Test func aWheelThatDoesNotMatchItsHashIsRefusedAndNotKept() async throws {
        let good = try syntheticWheels() + "/good"
        let index = try PipIndex(directories: [good], options: ["--corrupt", "beta-2.0-py3-none-any.whl"])
        let client = client(index.url())
        let file = try #require(try await client.files("beta").first { $0.fileName.contains("2.0") })
        await #expect { try await client.wheel(file) } throws: { "\($0)".contains("does not match the index's") }
        let kept = (try? FileManager.default.contentsOfDirectory(atPath: cache.file("pip/wheels"))) ?? []
        #expect(kept.isEmpty, "\(kept)")
        // --hash values the file does not have.
        let other = try #require(try await client.files("beta").first { $0.fileName.contains("1.0") })
        await #expect { try await client.wheel(other, allowed: ["00"]) } throws: { "\($0)".contains("is not one the requirements allow") }
    }

    @Test func zipReaderRefusesCorruptArchives() async throws {
        let directory = try TemporaryDirectory("zips")
        let notZip = try directory.write("x.whl", String(repeating: "not a zip ", count: 10))
        await #expect { try await ZipDirectory(try FileByteSource(path: notZip), label: "x.whl") } throws: { "\($0)".contains("not a zip archive") }
        let badcrc = try syntheticWheels() + "/evil/badcrc-1.0-py3-none-any.whl"
        let zip = try await ZipDirectory(try FileByteSource(path: badcrc), label: "badcrc")
        let entry = try #require(zip.entries.first { $0.name == "badcrc/__init__.py" })
        await #expect { try await zip.contents(entry) } throws: { "\($0)".contains("badcrc") }
    }
}

final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var all: [String] { lock.withLock { lines } }
    func append(_ line: String) { lock.withLock { lines.append(line) } }
}
