import Foundation
import OCI

/// An AzureML v1 `inferenceconfig.json`, as `az ml model deploy --ic` reads it.
public struct InferenceConfig: Sendable, Equatable, Decodable {
    public var entryScript: String?
    public var runtime: String?
    public var condaFile: String?
    public var sourceDirectory: String?
    public var baseImage: String?
    public var baseImageRegistry: RegistryCredentials?
    public var enableGpu: Bool?
    public var extraDockerfileSteps: String?
    public var description: String?
    public var cudaVersion: String?

    /// Registry credentials for the base image. They are handed to the resolver only, and never
    /// written into the image, its config, its history or a log line.
    public struct RegistryCredentials: Sendable, Equatable, Decodable, CustomStringConvertible {
        public var address: String?
        public var username: String?
        public var password: String?

        /// The registry host from `address`, without scheme or slashes: `myacr.azurecr.io`.
        public var host: String? {
            guard let address, !address.isEmpty else { return nil }
            return address.replacingOccurrences(of: "https://", with: "").replacingOccurrences(of: "http://", with: "")
                .trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        }

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
