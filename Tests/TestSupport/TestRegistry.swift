import Foundation

/// A real registry, Debian's docker-registry (distribution 2.8.2), on a free loopback port, for one test.
public final class TestRegistry: @unchecked Sendable {
    public enum Mode { case anonymous, htpasswd(user: String, password: String) }

    public let host: String
    public let storage: String
    private let directory: TemporaryDirectory
    private let process: Process

    public init(_ mode: Mode = .anonymous) throws {
        directory = try TemporaryDirectory("registry")
        let port = try freePort()
        host = "127.0.0.1:\(port)"
        storage = directory.file("data")
        var auth = ""
        if case let .htpasswd(user, password) = mode {
            let line = try run("htpasswd", ["-Bbn", user, password]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try directory.write("htpasswd", line + "\n")
            auth = "auth:\n  htpasswd:\n    realm: kiln-test\n    path: \(directory.file("htpasswd"))\n"
        }
        try directory.write("config.yml", """
        version: 0.1
        log: {level: warn}
        storage:
          filesystem: {rootdirectory: \(storage)}
          delete: {enabled: true}
        http:
          addr: \(host)
          secret: test-only-not-a-secret
        \(auth)
        """)
        process = Process()
        process.executableURL = URL(fileURLWithPath: try which("docker-registry"))
        process.arguments = ["serve", directory.file("config.yml")]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        try waitUntilListening(port: port)
    }

    deinit {
        process.terminate()
        process.waitUntilExit()
    }

    /// The path of a blob's bytes in the filesystem driver's layout, for fault injection.
    public func blobDataPath(hex: String) -> String {
        "\(storage)/docker/registry/v2/blobs/sha256/\(hex.prefix(2))/\(hex)/data"
    }
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
