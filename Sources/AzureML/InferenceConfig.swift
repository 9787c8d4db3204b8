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
    /// Asks for AzureML's GPU base; refused without `baseImage`, since Kiln has no default GPU base.
    public var enableGpu: Bool?
    /// Dockerfile steps to run; refused, since Kiln runs no Dockerfile steps.
    public var extraDockerfileSteps: String?
    /// Written to the `org.opencontainers.image.description` label.
    public var description: String?
    /// The CUDA version AzureML would install; read but not used.
    public var cudaVersion: String?

    /// Registry credentials for the base image. They are handed to the resolver only, and never
    /// written into the image, its config, its history or a log line.
    public struct RegistryCredentials: Sendable, Equatable, Decodable, CustomStringConvertible {
        /// The registry's address, with or without scheme: `myacr.azurecr.io`.
        public var address: String?
        /// The user name for the registry.
        public var username: String?
        /// The password for the registry.
        public var password: String?

        /// The registry host from `address`, without scheme or slashes: `myacr.azurecr.io`.
        public var host: String? {
            guard let address, !address.isEmpty else { return nil }
            return address.replacingOccurrences(of: "https://", with: "").replacingOccurrences(of: "http://", with: "")
                .trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        }

        /// The address only; the user name and password are redacted.
        public var description: String { "RegistryCredentials(address: \(address ?? "nil"), username: <redacted>, password: <redacted>)" }
    }

    /// Reads and decodes `path`, with a one-line error for a missing or malformed file.
    public static func load(_ path: String) throws -> InferenceConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AzureMLError.missingFile("inference config", path)
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
