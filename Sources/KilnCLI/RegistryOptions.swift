import ArgumentParser
import AsyncHTTPClient
import Build
import Foundation
import OCI
import Registry

/// Flags shared by every command that talks to a registry.
struct RegistryOptions: ParsableArguments {
    @Option(help: "Registry username; the password is read from standard input (--password-stdin).")
    var username: String?

    @Flag(name: .customLong("password-stdin"), help: "Read the registry password from standard input.")
    var passwordStdin = false

    @Option(name: .customLong("insecure-registry"), help: "Allow plain HTTP to this registry host (loopback always may).")
    var insecureRegistry: [String] = []

    @Option(name: .customLong("ca-file"), help: "Also trust the CA certificates in this PEM file (default: $SSL_CERT_FILE).")
    var caFile: String?

    @Option(name: .customLong("chunk-size"), help: "Upload blobs in PATCH chunks of this many bytes (default: one streamed PATCH).")
    var chunkSize: Int64?

    @Flag(help: "Print every registry request and response (credentials and signed URLs redacted) to standard error.")
    var verbose = false

    /// Checks `--tag` values against the distribution spec's tag grammar before any work starts.
    static func validate(tags: [String]) throws {
        for name in tags where !Reference.isValidTag(name) && name != "auto" {
            throw BuildError.invalidArgument("--tag '\(name)' must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
        }
    }

    /// `--tag` values with `auto` replaced by the repository's next integer tag (AzureML's numbering).
    func resolve(tags: [String], for reference: Reference, client: RegistryClient) async throws -> [String] {
        guard tags.contains("auto") else { return tags }
        let next = try await client.nextNumberTag(reference.repository)
        var seen = Set<String>()
        return tags.map { $0 == "auto" ? next : $0 }.filter { seen.insert($0).inserted }
    }

    func store(perRegistry: [String: Credential] = [:]) throws -> CredentialStore {
        var explicit: Credential?
        if passwordStdin {
            guard let username else { throw BuildError.invalidArgument("--password-stdin needs --username") }
            let input = FileHandle.standardInput.readDataToEndOfFile()
            let password = String(decoding: input, as: UTF8.self).trimmingCharacters(in: .newlines)
            guard !password.isEmpty else { throw BuildError.invalidArgument("--password-stdin: standard input was empty") }
            explicit = Credential(username: username, password: password, source: "--username")
        } else if username != nil {
            throw BuildError.invalidArgument("--username needs --password-stdin (passwords are never taken as flags)")
        }
        return CredentialStore(explicit: explicit, perRegistry: perRegistry)
    }

    func client(for reference: Reference, store: CredentialStore) async throws -> RegistryClient {
        var options = RegistryClient.Options()
        options.insecureHosts = Set(insecureRegistry)
        if let chunkSize {
            guard chunkSize > 0 else { throw BuildError.invalidArgument("--chunk-size must be a positive number of bytes") }
            options.chunkSize = chunkSize
        }
        if verbose { options.log = { line in FileHandle.standardError.write(Data(("kiln: " + line + "\n").utf8)) } }
        return try await RegistryClient.connect(registry: reference.registry,
                                                credential: store.credential(for: reference.registry, repository: reference.repository),
                                                http: try httpClient(), options: options)
    }

    func httpClient() throws -> HTTPClient {
        let environment = ProcessInfo.processInfo.environment["SSL_CERT_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        guard let file = caFile ?? environment else { return HTTPClient.registry }
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw BuildError.invalidArgument("\(caFile == nil ? "SSL_CERT_FILE" : "--ca-file") '\(file)': no such readable file")
        }
        return SharedClients.client(caFile: file)
    }
}

/// One HTTP client per CA file for the life of the process.
enum SharedClients {
    nonisolated(unsafe) static var clients: [String: HTTPClient] = [:]
    static let lock = NSLock()

    static func client(caFile: String) -> HTTPClient {
        lock.lock()
        defer { lock.unlock() }
        if let client = clients[caFile] { return client }
        let client = HTTPClient.makeRegistryClient(caFile: caFile)
        clients[caFile] = client
        return client
    }
}

extension RegistryError: KilnReportable { var reportText: String { description } }
