import Foundation

/// A docker `config.json` or containers `auth.json`: `auths`, `credHelpers` and `credsStore`.
struct DockerConfig: Decodable {
    struct Entry: Decodable {
        var auth: String?
        var username: String?
        var password: String?
        var identitytoken: String?
        var registrytoken: String?
    }

    var auths: [String: Entry]?
    var credHelpers: [String: String]?
    var credsStore: String?
    var path = ""

    enum CodingKeys: String, CodingKey { case auths, credHelpers, credsStore }

    /// nil when the file does not exist; an error naming the file when it is not valid JSON.
    static func load(_ path: String) throws -> DockerConfig? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            var config = try JSONDecoder().decode(DockerConfig.self, from: data)
            config.path = path
            return config
        } catch {
            throw RegistryError.credentials("\(path) is not a valid credentials file (\(Self.reason(error)))")
        }
    }

    static func reason(_ error: Error) -> String {
        switch error {
        case let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context):
            return context.codingPath.isEmpty ? "malformed JSON" : "bad value at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        default: return "malformed JSON"
        }
    }

    /// Docker's order: a credential helper for the host, then the default store, then `auths`.
    func credential(for registry: String, repository: String, environment: [String: String]) throws -> Credential? {
        let hosts = Self.keys(for: registry)
        if let helper = hosts.lazy.compactMap({ self.credHelpers?[$0] }).first {
            return try CredentialHelper(name: helper, environment: environment).get(hosts[0])
        }
        if let store = credsStore, !store.isEmpty,
           let found = try CredentialHelper(name: store, environment: environment).get(hosts[0]) {
            return found
        }
        guard let auths else { return nil }
        // containers auth.json allows namespaced keys: reg/ns/repo, reg/ns, then reg.
        var candidates: [String] = []
        var parts = repository.split(separator: "/").map(String.init)
        while !parts.isEmpty {
            candidates.append(hosts[0] + "/" + parts.joined(separator: "/"))
            parts.removeLast()
        }
        candidates += hosts
        for key in candidates {
            if let entry = auths[key] { return try Self.credential(entry, key: key, path: path) }
        }
        // Keys written as URLs (https://host/v1/) match by host.
        for (key, entry) in auths.sorted(by: { $0.key < $1.key }) where key.contains("://") && hosts.contains(Self.hostname(key)) {
            return try Self.credential(entry, key: key, path: path)
        }
        return nil
    }

    /// The keys docker uses for a registry; Docker Hub's is its v1 URL.
    static func keys(for registry: String) -> [String] {
        registry == "docker.io" ? ["https://index.docker.io/v1/", "docker.io", "index.docker.io", "registry-1.docker.io"] : [registry]
    }

    static func hostname(_ key: String) -> String {
        var text = Substring(key)
        if let scheme = text.range(of: "://") { text = text[scheme.upperBound...] }
        return String(text.split(separator: "/").first ?? "")
    }

    static func credential(_ entry: Entry, key: String, path: String) throws -> Credential? {
        let source = "\(path) (\(key))"
        if let token = entry.registrytoken, !token.isEmpty {
            return Credential(username: "", password: token, kind: .registryToken, source: source)
        }
        var username = entry.username ?? ""
        var password = entry.password ?? ""
        if let auth = entry.auth, !auth.isEmpty {
            var padded = auth.trimmingCharacters(in: .whitespacesAndNewlines)
            while padded.count % 4 != 0 { padded += "=" }
            guard let data = Data(base64Encoded: padded), let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") else {
                throw RegistryError.credentials("\(path): the auth field for \(key) is not base64 of user:password")
            }
            username = String(text[..<colon])
            password = String(text[text.index(after: colon)...]).trimmingCharacters(in: CharacterSet(charactersIn: "\0"))
        }
        if let token = entry.identitytoken, !token.isEmpty {
            return Credential(username: username, password: token, kind: .refreshToken, source: source)
        }
        guard !username.isEmpty || !password.isEmpty else { return nil }
        return Credential(username: username, password: password, source: source)
    }
}

/// Runs `docker-credential-NAME get` (the docker credential-helper protocol): the server address on
/// stdin, `{"ServerURL","Username","Secret"}` on stdout. Its output is never printed: it holds the secret.
struct CredentialHelper {
    var name: String
    var environment: [String: String]

    func get(_ server: String) throws -> Credential? {
        let program = "docker-credential-" + name
        guard let executable = Self.find(program, path: environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin") else {
            throw RegistryError.credentials("credential helper \(program) is not on PATH")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["get"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { throw RegistryError.credentials("cannot run \(program): \(error.localizedDescription)") }
        input.fileHandleForWriting.write(Data(server.utf8))
        try? input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            if text.contains("credentials not found") { return nil }
            throw RegistryError.credentials("\(program) get failed with status \(process.terminationStatus)")
        }
        struct Reply: Decodable { var Username: String?; var Secret: String? }
        guard let reply = try? JSONDecoder().decode(Reply.self, from: data), let secret = reply.Secret else {
            throw RegistryError.credentials("\(program) get printed something other than credentials JSON")
        }
        let username = reply.Username ?? ""
        // `<token>` marks an identity (refresh) token, as docker-credential-acr-env returns.
        let kind: CredentialKind? = username == "<token>" ? .refreshToken : nil
        return Credential(username: username, password: secret, kind: kind, source: program)
    }

    static func find(_ program: String, path: String) -> String? {
        path.split(separator: ":").map { "\($0)/\(program)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
