import Foundation
import OCI

/// An AzureML v1 `inferenceconfig.json`, as `az ml model deploy --ic` reads it.
public struct InferenceConfig: Sendable, Equatable, Decodable {
    /// The scoring script, relative to `sourceDirectory` when that is set, else to the config file; required.
    public var entryScript: String?
    /// The runtime; only `python` (any case) is accepted.
    public var runtime: String?
    /// An environment.yml for the image's conda environment, relative to the config file.
    public var condaFile: String?
    /// A directory of scoring code copied under the app root, relative to the config file.
    public var sourceDirectory: String?
    /// The base image; a base chosen on the command line wins over it.
    public var baseImage: String?
    /// Credentials and address for the base image's registry.
    public var baseImageRegistry: RegistryCredentials?
    /// Picks the GPU variant of a catalogue base, and sets conda's `__cuda` virtual package.
    public var enableGpu: Bool?
    /// A local file of Dockerfile steps, relative to the config (the SDK's meaning); the subset that
    /// needs no execution is applied.
    public var extraDockerfileSteps: String?
    /// Written to the `org.opencontainers.image.description` label.
    public var description: String?
    /// The CUDA version for `__cuda`; the GPU base's own version when not given.
    public var cudaVersion: String?
    /// The SDK's tags, written as labels.
    public var tags: [String: String]?
    /// The SDK's swagger schema file; it is served by the scoring script, so it only needs to be in the code.
    public var schemaFile: String?

    /// Registry credentials for the base image. They are handed to the resolver only, and never
    /// written into the image, its config, its history or a log line.
    /// In JSON either the SDK's object `{address, username, password}` or a plain string, the address.
    public struct RegistryCredentials: Sendable, Equatable, Decodable, CustomStringConvertible {
        /// The registry's address, with or without scheme: `myacr.azurecr.io`.
        public var address: String?
        /// The user name for the registry.
        public var username: String?
        /// The password for the registry.
        public var password: String?

        enum CodingKeys: String, CodingKey { case address, username, password }

        public init(address: String?, username: String? = nil, password: String? = nil) {
            self.address = address
            self.username = username
            self.password = password
        }

        public init(from decoder: Decoder) throws {
            if let address = try? decoder.singleValueContainer().decode(String.self) {
                self.init(address: address)
                return
            }
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.init(address: try container.decodeIfPresent(String.self, forKey: .address),
                      username: try container.decodeIfPresent(String.self, forKey: .username),
                      password: try container.decodeIfPresent(String.self, forKey: .password))
        }

        /// The registry host from `address`, without scheme or slashes: `myacr.azurecr.io`.
        public var host: String? {
            guard let address, !address.isEmpty else { return nil }
            return address.replacingOccurrences(of: "https://", with: "").replacingOccurrences(of: "http://", with: "")
                .trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        }

        /// The address only; the user name and password are redacted.
        public var description: String { "RegistryCredentials(address: \(address ?? "nil"), username: <redacted>, password: <redacted>)" }
    }

    /// The keys the SDK writes; any other key is reported rather than ignored.
    static let knownKeys: Set<String> = ["entryScript", "runtime", "condaFile", "sourceDirectory", "baseImage", "baseImageRegistry",
                                         "enableGpu", "extraDockerfileSteps", "description", "cudaVersion", "tags", "schemaFile"]

    /// Reads and decodes `path`, with a one-line error for a missing or malformed file.
    public static func load(_ path: String) throws -> InferenceConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AzureMLError.missingFile("inference config", path)
        }
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            if object["environment"] != nil {
                throw AzureMLError.invalid(path, "an 'environment' object is not supported; give condaFile and baseImage instead")
            }
            if let unknown = object.keys.sorted().first(where: { !knownKeys.contains($0) }) {
                throw AzureMLError.invalid(path, "unknown key '\(unknown)' (known: \(knownKeys.sorted().joined(separator: ", ")))")
            }
        }
        do {
            return try JSONDecoder().decode(InferenceConfig.self, from: data)
        } catch let error as DecodingError {
            throw AzureMLError.malformed(path, error.shortDescription)
        } catch {
            throw AzureMLError.malformed(path, "\(error)")
        }
    }
}
