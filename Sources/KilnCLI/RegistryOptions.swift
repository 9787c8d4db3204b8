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

    /// Checks `--tag` values against the distribution spec's tag grammar before any work starts.
    static func validate(tags: [String]) throws {
        for name in tags where !Reference.isValidTag(name) {
            throw BuildError.invalidArgument("--tag '\(name)' must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
        }
    }

    func store(perRegistry: [String: Credential] = [:]) throws -> CredentialStore {
        var explicit: Credential?
        if passwordStdin {
            guard let username else { throw BuildError.invalidArgument("--password-stdin needs --username") }
            let input = FileHandle.standardInput.readDataToEndOfFile()
            let password = String(decoding: input, as: UTF8.self).trimmingCharacters(in: .newlines)
            guard !password.isEmpty else { throw BuildError.invalidArgument("--password-stdin: standard input was empty") }
            explicit = Credential(username: username, password: password)
        } else if username != nil {
            throw BuildError.invalidArgument("--username needs --password-stdin (passwords are never taken as flags)")
        }
        return CredentialStore(explicit: explicit, perRegistry: perRegistry)
    }

    func client(for registry: String, store: CredentialStore) throws -> RegistryClient {
        try RegistryClient(registry: registry, credential: store.credential(for: registry), http: HTTPClient.registry,
                           insecureHosts: Set(insecureRegistry))
    }
}

extension RegistryError: KilnReportable { var reportText: String { description } }
