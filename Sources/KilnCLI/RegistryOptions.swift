import ArgumentParser
import AzureML
import Foundation
import HTTP
import Kiln
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
        for name in tags where !Reference.isValidTag(name) && name != ImageNumbering.automatic {
            throw PlanError.invalid("--tag '\(name)' must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
        }
    }

    /// Build options from these flags: credentials (reading the password from standard input), hosts,
    /// chunk size, CA file, and a log to standard error.
    func options() throws -> BuildOptions {
        var options = BuildOptions()
        options.handleSignals = true
        var explicit: Credential?
        if passwordStdin {
            guard let username else { throw PlanError.invalid("--password-stdin needs --username") }
            let input = FileHandle.standardInput.readDataToEndOfFile()
            let password = String(decoding: input, as: UTF8.self).trimmingCharacters(in: .newlines)
            guard !password.isEmpty else { throw PlanError.invalid("--password-stdin: standard input was empty") }
            explicit = Credential(username: username, password: password, source: "--username")
        } else if username != nil {
            throw PlanError.invalid("--username needs --password-stdin (passwords are never taken as flags)")
        }
        options.registry.credentials = CredentialStore(explicit: explicit)
        options.registry.client.insecureHosts = Set(insecureRegistry)
        if let chunkSize {
            guard chunkSize > 0 else { throw PlanError.invalid("--chunk-size must be a positive number of bytes") }
            options.registry.client.chunkSize = chunkSize
        }
        options.registry.caFile = try KilnCLI.caFile(flag: caFile)
        if verbose { options.registry.client.log = { line in Console.line("kiln: " + line) } }
        options.log = { line in Console.line("kiln: \(line)") }
        return options
    }

    /// `--tag` values with `auto` replaced by the repository's next integer tag (AzureML's numbering).
    static func resolve(tags: [String], for reference: Reference, options: BuildOptions) async throws -> [String] {
        guard tags.contains(ImageNumbering.automatic) else { return tags }
        var existing: [String] = []
        do {
            existing = try await Kiln.tags(of: reference, options: options)
        } catch RegistryError.notFound {
            existing = []   // a new repository: numbering starts at 1
        }
        let next = ImageNumbering.nextTag(after: existing)
        var seen = Set<String>()
        return tags.map { $0 == ImageNumbering.automatic ? next : $0 }.filter { seen.insert($0).inserted }
    }
}

extension PushSummary {
    var summary: String { "(uploaded \(uploaded.count), mounted \(mounted.count), present \(existing.count))" }

    /// `REGISTRY/REPO:TAG[,TAG…]`, or `REGISTRY/REPO@DIGEST` when the push named the manifest by digest.
    func pushedName(_ reference: Reference, digest: Digest) -> String {
        let names = tags.filter { !$0.isEmpty && !$0.hasPrefix("sha256:") }
        let repository = "\(reference.registry)/\(reference.repository)"
        return names.isEmpty ? "\(repository)@\(digest)" : "\(repository):\(names.joined(separator: ","))"
    }
}
