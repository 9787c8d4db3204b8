import Foundation
import Testing
import TestSupport

/// Package indexes and conda channels that flood, trickle, lie about sizes or serve decompression bombs.
/// Each case runs the kiln binary under GNU time and checks: exit status 1 and exactly one `kiln: error:`
/// line naming the index or channel with its secret redacted, peak RSS under a bound, wall time under a
/// deadline, and nothing half-written left behind (no target, no `.part` file, no extracted package).
@Suite(.serialized) struct HostileIndexTests {
    static let secret = "s3cret-XYZ"
    static let channelToken = "tk-s3cret-XYZ"

    typealias Outcome = KilnBinary.Measured

    /// Runs kiln under /usr/bin/time with `environment` added; its stderr without time's line.
    static func measured(_ arguments: [String], environment: [String: String]) throws -> Outcome {
        try KilnBinary.measured(arguments, environment: environment)
    }

    /// The checks every case makes (a)–(c); `naming` is what the line must contain (the redacted URL).
    static func expectOneLine(_ outcome: Outcome, naming: [String], maxPeakMiB: Int, deadline: Double,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        let report = "\(outcome.stderr) [peak \(outcome.peakKiB / 1024) MiB, \(String(format: "%.1f", outcome.seconds)) s]"
        print("HostileIndexTests: \(report)")
        #expect(outcome.status == 1, "\(report)", sourceLocation: sourceLocation)
        // Progress lines (`kiln: fetch …`) may come before it; the error is one line of its own.
        let errors = outcome.stderr.split(separator: "\n").filter { $0.hasPrefix("kiln: error: ") }
        #expect(errors.count == 1, "one error line: \(report)", sourceLocation: sourceLocation)
        let line = errors.first.map(String.init) ?? ""
        for text in naming { #expect(line.contains(text), "names \(text): \(report)", sourceLocation: sourceLocation) }
        #expect(!(outcome.stdout + outcome.stderr).contains(secret), "the secret leaked: \(report)", sourceLocation: sourceLocation)
        #expect(outcome.peakKiB < maxPeakMiB * 1024, "peak RSS over \(maxPeakMiB) MiB: \(report)", sourceLocation: sourceLocation)
        #expect(outcome.seconds < deadline, "slower than \(deadline) s: \(report)", sourceLocation: sourceLocation)
    }

    /// Files under `root` that a failed run must not leave: `.part` downloads and staging directories.
    static func leftovers(_ root: String) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: root)
        var found: [String] = []
        while let relative = enumerator?.nextObject() as? String {
            if relative.hasSuffix(".part") || relative.contains(".part/") { found.append(relative) }
        }
        return found
    }

    /// Runs a Python script (the test's artifact builders), failing the test with its stderr.
    static func python(_ script: String, _ arguments: [String]) throws {
        let scratch = try TemporaryDirectory("py")
        let path = try scratch.write("script.py", script)
        let result = try run(pythonPath(), [path] + arguments)
        guard result.status == 0 else { throw ToolMissing(name: "a test artifact (\(result.stderr.suffix(600)))") }
    }

    // MARK: conda channels

    /// `http://127.0.0.1:PORT/t/<token>/chan` as an environment file's only channel.
    static func environmentFile(_ directory: TemporaryDirectory, channel: String, package: String = "bomb") throws -> String {
        try directory.write("environment.yml", "channels:\n  - \(channel)\ndependencies:\n  - \(package)\n")
    }

    static func channelURL(_ server: TestHTTPServer) -> String { "http://\(server.host)/t/\(channelToken)/chan" }
    static func redactedChannel(_ server: TestHTTPServer) -> String { "http://\(server.host)/t/<redacted>/chan" }

    /// A 2 GiB repodata.json, poured in chunks with no Content-Length, behind a missing .zst.
    @Test func anEndlessRepodataIsCutOffAtTheCap() throws {
        let server = try TestHTTPServer { request in
            if request.uri.hasSuffix("/linux-64/repodata.json") { return .init(status: 200, delivery: .endless(total: 2 << 30)) }
            return .init(status: 404)
        }
        let work = try TemporaryDirectory("hostile-conda")
        let file = try Self.environmentFile(work, channel: Self.channelURL(server))
        let outcome = try Self.measured(["env", "solve", file], environment: ["KILN_CACHE_DIR": work.file("cache")])
        Self.expectOneLine(outcome, naming: [Self.redactedChannel(server) + "/linux-64/repodata.json", "larger than 1073741824 bytes"],
                           maxPeakMiB: 250, deadline: 180)
        #expect(Self.leftovers(work.file("cache")).isEmpty, "\(Self.leftovers(work.file("cache")))")
    }

    /// A repodata.json that says up front it is 2 GiB is refused before a byte of it is read.
    @Test func aRepodataDeclaredAtTwoGiBIsRefusedUnread() throws {
        let server = try TestHTTPServer { request in
            if request.uri.hasSuffix("/linux-64/repodata.json") { return .init(status: 200, body: Data("{}".utf8), delivery: .declaredLength(2 << 30)) }
            return .init(status: 404)
        }
        let work = try TemporaryDirectory("hostile-conda")
        let file = try Self.environmentFile(work, channel: Self.channelURL(server))
        let outcome = try Self.measured(["env", "solve", file], environment: ["KILN_CACHE_DIR": work.file("cache")])
        Self.expectOneLine(outcome, naming: [Self.redactedChannel(server) + "/linux-64/repodata.json", "larger than 1073741824 bytes"],
                           maxPeakMiB: 100, deadline: 20)
        #expect(Self.leftovers(work.file("cache")).isEmpty)
    }

    /// A 40 KB repodata.json.zst that expands to 1.1 GiB of zeros (no content size in the frame, as a
    /// streaming compressor writes it): refused at the 1 GiB cap with flat memory.
    @Test func aZstdBombRepodataIsRefusedAtTheCap() throws {
        let work = try TemporaryDirectory("hostile-conda")
        let made = try run("/bin/sh", ["-c", "head -c 1100M /dev/zero | zstd -q -1 -c > '\(work.file("repodata.json.zst"))'"])
        #expect(made.status == 0, "\(made.stderr)")
        let bomb = try Data(contentsOf: URL(fileURLWithPath: work.file("repodata.json.zst")))
        #expect(bomb.count < 1 << 20)
        let server = try TestHTTPServer { request in
            if request.uri.hasSuffix("/linux-64/repodata.json.zst") { return .init(status: 200, body: bomb) }
            return .init(status: 404)
        }
        let file = try Self.environmentFile(work, channel: Self.channelURL(server))
        let outcome = try Self.measured(["env", "solve", file], environment: ["KILN_CACHE_DIR": work.file("cache")])
        Self.expectOneLine(outcome, naming: [Self.redactedChannel(server) + "/linux-64/repodata.json.zst", "expands to more than 1073741824 bytes"],
                           maxPeakMiB: 250, deadline: 60)
        #expect(Self.leftovers(work.file("cache")).isEmpty)
    }

    /// Writes bomb-1.0-0.conda (1 GiB of zeros in pkg-*.tar.zst) and bomb-1.0-0.tar.bz2 (256 MiB of zeros,
    /// before info/, as conda-build used to order members); info/paths.json declares share/bomb/blob as 16 bytes.
    static let condaBombs = #"""
    import hashlib, io, json, subprocess, sys, tarfile, zipfile, bz2
    out, conda_size, bz2_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    index = {"name": "bomb", "version": "1.0", "build": "0", "build_number": 0, "depends": [], "subdir": "linux-64"}
    paths = {"paths_version": 1, "paths": [
        {"_path": "share/bomb/blob", "path_type": "hardlink", "sha256": "0" * 64, "size_in_bytes": 16},
        {"_path": "share/bomb/ok", "path_type": "hardlink", "sha256": "0" * 64, "size_in_bytes": 3}]}
    info = [("info/index.json", json.dumps(index).encode()), ("info/paths.json", json.dumps(paths).encode())]

    def member(name, data):
        header = tarfile.TarInfo(name); header.size = len(data); header.mode = 0o644; header.mtime = 1672531200
        return header.tobuf(format=tarfile.PAX_FORMAT) + data + bytes(-len(data) % 512)

    def zeros(write, name, size):
        header = tarfile.TarInfo(name); header.size = size; header.mode = 0o644; header.mtime = 1672531200
        write(header.tobuf(format=tarfile.PAX_FORMAT))
        chunk = bytes(1 << 20)
        left = size
        while left:
            n = min(left, len(chunk)); write(chunk[:n]); left -= n
        write(bytes(-size % 512))

    def zstd(data=None, producer=None):
        proc = subprocess.Popen(["zstd", "-q", "-1", "-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        import threading
        result = []
        reader = threading.Thread(target=lambda: result.append(proc.stdout.read())); reader.start()
        if data is not None: proc.stdin.write(data)
        if producer is not None: producer(proc.stdin.write)
        proc.stdin.close(); reader.join(); proc.wait()
        return result[0]

    info_tar = b"".join(member(n, d) for n, d in info) + bytes(1024)
    def pkg(write):
        write(member("share/bomb/ok", b"ok\n"))
        zeros(write, "share/bomb/blob", conda_size)
        write(bytes(1024))
    with zipfile.ZipFile(out + "/bomb-1.0-0.conda", "w", zipfile.ZIP_STORED) as z:
        z.writestr("metadata.json", json.dumps({"conda_pkg_format_version": 2}))
        z.writestr("pkg-bomb-1.0-0.tar.zst", zstd(producer=pkg))
        z.writestr("info-bomb-1.0-0.tar.zst", zstd(data=info_tar))

    compressor = bz2.BZ2Compressor(9)
    parts = []
    write = lambda data: parts.append(compressor.compress(data))
    zeros(write, "share/bomb/blob", bz2_size)
    write(member("share/bomb/ok", b"ok\n"))
    for n, d in info: write(member(n, d))
    write(bytes(1024))
    parts.append(compressor.flush())
    open(out + "/bomb-1.0-0.tar.bz2", "wb").write(b"".join(parts))

    def record(name):
        data = open(out + "/" + name, "rb").read()
        return dict(index, sha256=hashlib.sha256(data).hexdigest(), md5=hashlib.md5(data).hexdigest(), size=len(data))
    for kind, name in (("conda", "bomb-1.0-0.conda"), ("bz2", "bomb-1.0-0.tar.bz2")):
        key = "packages.conda" if name.endswith(".conda") else "packages"
        repodata = {"info": {"subdir": "linux-64"}, "packages": {}, "packages.conda": {}}
        repodata[key][name] = record(name)
        open(out + "/repodata-" + kind + ".json", "w").write(json.dumps(repodata))
    """#

    /// A channel serving the bomb `package` with its true sha256 and size; `delivery` for the package.
    static func bombChannel(_ directory: TemporaryDirectory, kind: String, package: String,
                            delivery: TestHTTPServer.Delivery = .whole) throws -> TestHTTPServer {
        let repodata = try Data(contentsOf: URL(fileURLWithPath: directory.file("repodata-\(kind).json")))
        let archive = try Data(contentsOf: URL(fileURLWithPath: directory.file(package)))
        return try TestHTTPServer { request in
            if request.uri.hasSuffix("/linux-64/repodata.json") { return .init(status: 200, body: repodata) }
            if request.uri.hasSuffix("/linux-64/" + package) { return .init(status: 200, body: archive, delivery: delivery) }
            return .init(status: 404)
        }
    }

    static let bombs = Result { () throws -> TemporaryDirectory in
        let directory = try TemporaryDirectory("conda-bombs")
        try python(condaBombs, [directory.path, "\(1 << 30)", "\(256 << 20)"])
        return directory
    }

    /// Checks (d) for conda: no environment, no package left unpacked, no `.part` anywhere in the cache.
    static func expectNothingLeft(_ work: TemporaryDirectory, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!FileManager.default.fileExists(atPath: work.file("env")), "no environment", sourceLocation: sourceLocation)
        let unpacked = (try? FileManager.default.contentsOfDirectory(atPath: work.file("cache/unpacked"))) ?? []
        #expect(unpacked.isEmpty, "nothing unpacked: \(unpacked)", sourceLocation: sourceLocation)
        #expect(leftovers(work.file("cache")).isEmpty, "\(leftovers(work.file("cache")))", sourceLocation: sourceLocation)
    }

    /// `kiln env install` from a channel serving `package` from the bombs, in a fresh cache; the outcome
    /// and the work directory, for the checks.
    static func installBomb(kind: String, package: String, delivery: TestHTTPServer.Delivery = .whole,
                            environment extra: [String: String] = [:]) throws -> (Outcome, TemporaryDirectory, channel: String) {
        let bombs = try Self.bombs.get()
        let server = try Self.bombChannel(bombs, kind: kind, package: package, delivery: delivery)
        let work = try TemporaryDirectory("hostile-conda")
        let file = try Self.environmentFile(work, channel: Self.channelURL(server))
        let outcome = try withExtendedLifetime(server) {
            try Self.measured(["env", "install", file, "--prefix", work.file("env")],
                              environment: ["KILN_CACHE_DIR": work.file("cache")].merging(extra) { _, new in new })
        }
        return (outcome, work, Self.redactedChannel(server))
    }

    /// A 40 KB .conda whose pkg tar holds a 1 GiB member that info/paths.json declares as 16 bytes:
    /// refused from the member's header, before any of it is written.
    @Test func aCondaPackageWhoseMemberOutgrowsPathsJSONIsRefused() throws {
        let (outcome, work, _) = try Self.installBomb(kind: "conda", package: "bomb-1.0-0.conda")
        Self.expectOneLine(outcome, naming: ["bomb-1.0-0.conda", "share/bomb/blob is 1073741824 bytes, but info/paths.json declares 16"],
                           maxPeakMiB: 250, deadline: 30)
        Self.expectNothingLeft(work)
    }

    /// The same bomb as a .tar.bz2 whose info/ comes after the files: found by the first pass, which
    /// decompresses but writes nothing, then refused in the second before the member is written.
    @Test func aTarBz2PackageWithLateInfoIsBoundedToo() throws {
        let (outcome, work, _) = try Self.installBomb(kind: "bz2", package: "bomb-1.0-0.tar.bz2")
        Self.expectOneLine(outcome, naming: ["bomb-1.0-0.tar.bz2", "share/bomb/blob is 268435456 bytes, but info/paths.json declares 16"],
                           maxPeakMiB: 250, deadline: 60)
        Self.expectNothingLeft(work)
    }

    /// A package download that trickles one byte a second: given up after the KILN_HTTP_TIMEOUT window,
    /// and the partial download removed.
    @Test func aTricklingPackageDownloadIsGivenUp() throws {
        let (outcome, work, channel) = try Self.installBomb(kind: "conda", package: "bomb-1.0-0.conda", delivery: .trickle(interval: 1),
                                                            environment: ["KILN_HTTP_TIMEOUT": "2"])
        Self.expectOneLine(outcome, naming: [channel + "/linux-64/bomb-1.0-0.conda"], maxPeakMiB: 150, deadline: 15)
        Self.expectNothingLeft(work)
    }

    // MARK: package indexes

    static func indexURL(_ server: TestHTTPServer) -> String { "http://user:\(secret)@\(server.host)/simple" }
    static func redactedIndex(_ server: TestHTTPServer) -> String { "http://<redacted>@\(server.host)/simple" }

    /// A PEP 503 page of `links` anchors to wheels that do not exist.
    static func manyLinksPage(_ links: Int) -> Data {
        var page = Data("<!DOCTYPE html>\n<html><body>\n".utf8)
        for n in 0..<links {
            page.append(contentsOf: Array("<a href=\"/files/many-0.\(n)-py3-none-any.whl\">many-0.\(n)-py3-none-any.whl</a><br/>\n".utf8))
        }
        page.append(contentsOf: Array("</body></html>\n".utf8))
        return page
    }

    /// A PEP 503 page with a million links (about 90 MB): refused in one line before it is parsed.
    @Test func anIndexPageWithAMillionLinksIsRefused() throws {
        let body = Self.manyLinksPage(1_000_000)
        let server = try TestHTTPServer { request in
            if request.uri.hasPrefix("/simple/many/") { return .init(status: 200, headers: [("Content-Type", "text/html")], body: body) }
            return .init(status: 404)
        }
        let work = try TemporaryDirectory("hostile-pip")
        let requirements = try work.write("requirements.txt", "many\n")
        let outcome = try Self.measured(["pip", "resolve", "-r", requirements, "--index-url", Self.indexURL(server)],
                                        environment: ["KILN_CACHE_DIR": work.file("cache")])
        Self.expectOneLine(outcome, naming: ["\(server.host)/simple/many/", "lists more than 200000 files"], maxPeakMiB: 250, deadline: 60)
    }

    /// The PEP 691 JSON form of the same page.
    @Test func aJSONIndexPageWithAMillionFilesIsRefused() throws {
        var page = Data(#"{"meta": {"api-version": "1.1"}, "name": "many", "files": ["#.utf8)
        for n in 0..<1_000_000 {
            if n > 0 { page.append(UInt8(ascii: ",")) }
            page.append(contentsOf: Array(#"{"filename": "many-0.\#(n)-py3-none-any.whl", "url": "/files/many-0.\#(n)-py3-none-any.whl", "hashes": {}}"#.utf8))
        }
        page.append(contentsOf: Array("]}".utf8))
        let body = page
        let server = try TestHTTPServer { request in
            if request.uri.hasPrefix("/simple/many/") { return .init(status: 200, headers: [("Content-Type", "application/vnd.pypi.simple.v1+json")], body: body) }
            return .init(status: 404)
        }
        let work = try TemporaryDirectory("hostile-pip")
        let requirements = try work.write("requirements.txt", "many\n")
        let outcome = try Self.measured(["pip", "resolve", "-r", requirements, "--index-url", Self.indexURL(server)],
                                        environment: ["KILN_CACHE_DIR": work.file("cache")])
        Self.expectOneLine(outcome, naming: ["\(server.host)/simple/many/", "lists more than 200000 files"], maxPeakMiB: 250, deadline: 60)
    }

    /// A page just under the bound (200,000 links, 18 MB) is read, and costs bounded memory and time: the
    /// resolver picks the newest and stops at its missing file. Most of the time is the resolver's (wheel
    /// names and versions parsed per file), not the page parser's: about 45 s for the debug binary.
    @Test func anIndexPageAtTheBoundIsReadWithinBounds() throws {
        let body = Self.manyLinksPage(200_000)
        let server = try TestHTTPServer { request in
            if request.uri.hasPrefix("/simple/many/") { return .init(status: 200, headers: [("Content-Type", "text/html")], body: body) }
            return .init(status: 404)
        }
        let work = try TemporaryDirectory("hostile-pip")
        let requirements = try work.write("requirements.txt", "many\n")
        let outcome = try Self.measured(["pip", "resolve", "-r", requirements, "--index-url", Self.indexURL(server)],
                                        environment: ["KILN_CACHE_DIR": work.file("cache")])
        Self.expectOneLine(outcome, naming: ["\(server.host)/files/many-0.199999-py3-none-any.whl", "404"], maxPeakMiB: 400, deadline: 240)
    }

    /// Writes bomb-1.0-py3-none-any.whl by hand: bomb/data.bin is 1 GiB of zeros deflated (about 1 MB)
    /// whose local and central headers both say 4096 bytes.
    static let wheelBomb = #"""
    import struct, sys, zlib
    out, size = sys.argv[1], int(sys.argv[2])
    deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    parts = [deflater.compress(chunk) for _ in range(size >> 20)]
    parts.append(deflater.flush())
    bomb = b"".join(parts)
    members = [("bomb/__init__.py", b"X = 1\n", None), ("bomb/data.bin", bomb, 4096),
               ("bomb-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: bomb\nVersion: 1.0\n", None),
               ("bomb-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n", None),
               ("bomb-1.0.dist-info/RECORD", b"", None)]
    body, central = b"", b""
    for name, data, declared in members:
        raw = name.encode()
        method = 8 if declared else 0
        usize = declared if declared else len(data)
        crc = zlib.crc32(bytes(usize)) if declared else zlib.crc32(data)
        offset = len(body)
        body += struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, method, 0, 0x21, crc, len(data), usize, len(raw), 0) + raw + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, (3 << 8) | 20, 20, 0, method, 0, 0x21, crc, len(data), usize,
                               len(raw), 0, 0, 0, 0, 0o100644 << 16, offset) + raw
    end = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, len(members), len(members), len(central), len(body), 0)
    open(out + "/bomb-1.0-py3-none-any.whl", "wb").write(body + central + end)
    """#

    /// An index of one project whose page links `file` (with its sha256) and serves it with `delivery`.
    static func wheelIndex(project: String, file: String, wheel: Data, delivery: TestHTTPServer.Delivery = .whole) throws -> TestHTTPServer {
        let page = Data("<html><body><a href=\"/files/\(file)#sha256=\(sha256Hex(wheel))\">\(file)</a></body></html>\n".utf8)
        return try TestHTTPServer { request in
            if request.uri.hasPrefix("/simple/\(project)/") { return .init(status: 200, headers: [("Content-Type", "text/html")], body: page) }
            // Range requests get the whole file: Kiln keeps it and reads METADATA from it.
            if request.uri == "/files/\(file)" { return .init(status: 200, body: wheel, delivery: delivery) }
            return .init(status: 404)
        }
    }

    /// A wheel (with its true sha256 in the index) whose member inflates past the size its headers give:
    /// stopped at the declared size, with nothing installed.
    @Test func aZipBombWheelStopsAtTheDeclaredSize() throws {
        let work = try TemporaryDirectory("hostile-pip")
        try Self.python(Self.wheelBomb, [work.path, "\(1 << 30)"])
        let wheel = try Data(contentsOf: URL(fileURLWithPath: work.file("bomb-1.0-py3-none-any.whl")))
        #expect(wheel.count < 4 << 20)
        let server = try Self.wheelIndex(project: "bomb", file: "bomb-1.0-py3-none-any.whl", wheel: wheel)
        let requirements = try work.write("requirements.txt", "bomb\n")
        let outcome = try Self.measured(["pip", "install", "-r", requirements, "--index-url", Self.indexURL(server), "--target", work.file("target")],
                                        environment: ["KILN_CACHE_DIR": work.file("cache")])
        Self.expectOneLine(outcome, naming: ["bomb-1.0-py3-none-any.whl", "bomb/data.bin", "declared size"], maxPeakMiB: 150, deadline: 30)
        let left = try FileManager.default.contentsOfDirectory(atPath: work.path).sorted()
        #expect(left == ["bomb-1.0-py3-none-any.whl", "cache", "requirements.txt"], "no target, no staging: \(left)")
        #expect(Self.leftovers(work.file("cache")).isEmpty)
    }

    /// A wheel answer whose Content-Length promises 64 KiB more than is sent before the connection closes.
    @Test func aWheelCutShortOfItsContentLengthIsRefused() throws {
        let work = try TemporaryDirectory("hostile-pip")
        let wheel = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let server = try Self.wheelIndex(project: "short", file: "short-1.0-py3-none-any.whl", wheel: wheel,
                                         delivery: .declaredLength(wheel.count + 65536))
        let requirements = try work.write("requirements.txt", "short\n")
        let outcome = try Self.measured(["pip", "install", "-r", requirements, "--index-url", Self.indexURL(server), "--target", work.file("target")],
                                        environment: ["KILN_CACHE_DIR": work.file("cache"), "KILN_HTTP_TIMEOUT": "2"])
        Self.expectOneLine(outcome, naming: ["\(server.host)/files/short-1.0-py3-none-any.whl"], maxPeakMiB: 150, deadline: 15)
        #expect(!FileManager.default.fileExists(atPath: work.file("target")))
        #expect(Self.leftovers(work.file("cache")).isEmpty, "\(Self.leftovers(work.file("cache")))")
        let wheels = (try? FileManager.default.contentsOfDirectory(atPath: work.file("cache/pip/wheels"))) ?? []
        #expect(wheels.isEmpty, "no wheel kept: \(wheels)")
    }

    /// A project page that sends one byte a second: given up after the KILN_HTTP_TIMEOUT window.
    @Test func aTricklingIndexPageIsGivenUp() throws {
        let page = Data(("<html><body>\n" + String(repeating: "<!-- padding -->\n", count: 200) + "</body></html>\n").utf8)
        let server = try TestHTTPServer { request in
            if request.uri.hasPrefix("/simple/slow/") { return .init(status: 200, headers: [("Content-Type", "text/html")], body: page, delivery: .trickle(interval: 1)) }
            return .init(status: 404)
        }
        let work = try TemporaryDirectory("hostile-pip")
        let requirements = try work.write("requirements.txt", "slow\n")
        let outcome = try Self.measured(["pip", "resolve", "-r", requirements, "--index-url", Self.indexURL(server)],
                                        environment: ["KILN_CACHE_DIR": work.file("cache"), "KILN_HTTP_TIMEOUT": "2"])
        Self.expectOneLine(outcome, naming: [Self.redactedIndex(server) + "/slow/"], maxPeakMiB: 150, deadline: 15)
        #expect(Self.leftovers(work.file("cache")).isEmpty, "\(Self.leftovers(work.file("cache")))")
    }
}
