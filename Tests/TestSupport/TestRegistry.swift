import Foundation

/// A real registry, Debian's docker-registry (distribution 2.8.2), on a free loopback port, for one test.
/// Its access log is kept, so tests can count the requests a client made.
public final class TestRegistry: @unchecked Sendable {
    public enum Mode {
        case anonymous
        case htpasswd(user: String, password: String)
        /// Token auth against `server`, which signs ES256 JWTs the registry trusts.
        case token(TokenServer)
    }

    /// One line of the registry's access log.
    public struct Request: Sendable, Equatable {
        public var method: String
        public var path: String
        public var status: Int
    }

    public let host: String
    public let port: Int
    public let storage: String
    public let scheme: String
    private let directory: TemporaryDirectory
    private var process: Process?

    /// `tls` is a (certificate, key) pair in PEM files; the registry then serves HTTPS only.
    public init(_ mode: Mode = .anonymous, tls: (certificate: String, key: String)? = nil) throws {
        directory = try TemporaryDirectory("registry")
        port = try freePort()
        host = "127.0.0.1:\(port)"
        storage = directory.file("data")
        scheme = tls == nil ? "http" : "https"
        var auth = ""
        switch mode {
        case .anonymous: break
        case let .htpasswd(user, password):
            let line = try run("htpasswd", ["-Bbn", user, password]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try directory.write("htpasswd", line + "\n")
            auth = "auth:\n  htpasswd:\n    realm: kiln-test\n    path: \(directory.file("htpasswd"))\n"
        case let .token(server):
            auth = """
            auth:
              token:
                realm: \(server.realm)
                service: \(TokenServer.service)
                issuer: \(TokenServer.issuer)
                rootcertbundle: \(server.bundle)

            """
        }
        let tlsLines = tls.map { "  tls:\n    certificate: \($0.certificate)\n    key: \($0.key)\n" } ?? ""
        try directory.write("config.yml", """
        version: 0.1
        log: {level: warn}
        storage:
          filesystem: {rootdirectory: \(storage)}
          delete: {enabled: true}
        http:
          addr: \(host)
          secret: test-only-not-a-secret
        \(tlsLines)\(auth)
        """)
        try start()
    }

    deinit { stop() }

    /// Starts the registry (again) on the same port and storage.
    public func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try which("docker-registry"))
        process.arguments = ["serve", directory.file("config.yml")]
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        self.process = process
        try waitUntilListening(port: port)
    }

    /// Kills the registry at once, as a crash would.
    public func stop() {
        guard let process else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    var logPath: String { directory.file("registry.log") }

    /// Every request the registry has answered, from its access log, in order.
    public func requests() -> [Request] {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            // 127.0.0.1 - - [date] "PATCH /v2/a/b/blobs/uploads/x?_state=… HTTP/1.1" 202 0 "" "kiln/0.1"
            let parts = line.split(separator: "\"")
            guard parts.count >= 3, line.hasPrefix("127.") else { return nil }
            let request = parts[1].split(separator: " ")
            let status = parts[2].split(separator: " ").first.flatMap { Int($0) }
            guard request.count == 3, let status else { return nil }
            let path = request[1].split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
            return Request(method: String(request[0]), path: path, status: status)
        }
    }

    /// The path of a blob's bytes in the filesystem driver's layout, for fault injection.
    public func blobDataPath(hex: String) -> String {
        "\(storage)/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data"
    }
}

/// fixtures/token_server.py: a Docker token server signing ES256 JWTs with the libtrust kid, which also
/// emulates ACR's `/oauth2/exchange` and the AAD client-credentials endpoint.
public final class TokenServer: @unchecked Sendable {
    public static let service = "kiln-test-registry"
    public static let issuer = "kiln-test-issuer"
    public struct AAD: Sendable {
        public var tenant: String, clientID: String, secret: String
        public init(tenant: String, clientID: String, secret: String) {
            self.tenant = tenant
            self.clientID = clientID
            self.secret = secret
        }
    }

    public let host: String
    private let directory: TemporaryDirectory
    private let process: Process
    public var realm: String { "http://\(host)/oauth2/token" }
    public var bundle: String { directory.file("bundle.pem") }

    /// `users` maps a name to its password and allowed actions.
    public init(users: [String: (password: String, actions: [String])], aad: AAD? = nil, ttl: Int = 300) throws {
        directory = try TemporaryDirectory("tokens")
        var settings: [String: Any] = ["ttl": ttl, "users": users.mapValues { ["password": $0.password, "actions": $0.actions] }]
        if let aad { settings["aad"] = ["tenant": aad.tenant, "client_id": aad.clientID, "client_secret": aad.secret] }
        try directory.write("users.json", try JSONSerialization.data(withJSONObject: settings))
        process = Process()
        process.executableURL = URL(fileURLWithPath: pythonPath())
        process.arguments = [fixturePath("token_server.py"), directory.path, Self.issuer, Self.service]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: directory.file("stderr"))
        _ = FileManager.default.createFile(atPath: directory.file("stderr"), contents: nil)
        try process.run()
        let deadline = Date().addingTimeInterval(15)
        while !FileManager.default.fileExists(atPath: directory.file("port")) {
            guard Date() < deadline, process.isRunning else {
                let log = (try? String(contentsOfFile: directory.file("stderr"), encoding: .utf8)) ?? ""
                throw ToolMissing(name: "a working token server (\(log))")
            }
            usleep(50_000)
        }
        host = "127.0.0.1:" + ((try? String(contentsOfFile: directory.file("port"), encoding: .utf8)) ?? "")
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Requests the server saw: method and path.
    public func requests() -> [(method: String, path: String, authorization: Bool)] {
        lines("requests.log").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let method = object["method"] as? String, let path = object["path"] as? String else { return nil }
            return (method, path, object["authorization"] as? Bool ?? false)
        }
    }

    /// Every token and refresh token it issued, for leak searches.
    public func issuedSecrets() -> [String] { lines("secrets.log") }

    private func lines(_ name: String) -> [String] {
        ((try? String(contentsOfFile: directory.file(name), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
}

/// Debian's python3, not a version-manager shim that forks (signals must reach the server).
public func pythonPath() -> String {
    FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : ((try? which("python3")) ?? "python3")
}

/// A file under the repository's fixtures/ folder.
public func fixturePath(_ name: String, file: String = #filePath) -> String {
    URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures").appendingPathComponent(name).path
}

/// A TCP port that was free a moment ago.
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw ToolMissing(name: "a free loopback port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

public func waitUntilListening(port: Int, seconds: Double = 15) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        close(fd)
        if connected { return }
        usleep(50_000)
    }
    throw ToolMissing(name: "docker-registry listening on port \(port)")
}

/// fixtures/flaky_proxy.py in front of a registry: fails (or cuts short) the first `count` requests
/// whose path contains `marker`, forwards the rest, and logs every request to `log` when given.
public final class FlakyProxy: @unchecked Sendable {
    public let host: String
    private let process: Process

    public convenience init(to registry: TestRegistry, marker: String, status: Int, count: Int, log: String? = nil) throws {
        try self.init(upstreamPort: registry.port, marker: marker, status: status, count: count, log: log)
    }

    /// In front of any loopback HTTP server on `upstreamPort` (a channel or an index, say).
    public init(upstreamPort: Int, marker: String, status: Int, count: Int, log: String? = nil) throws {
        let port = try freePort()
        process = Process()
        process.executableURL = URL(fileURLWithPath: pythonPath())
        process.arguments = [fixturePath("flaky_proxy.py"), "\(port)", "\(upstreamPort)", marker, "\(status)", "\(count)"] + (log.map { [$0] } ?? [])
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        try waitUntilListening(port: port)
        host = "127.0.0.1:\(port)"
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
