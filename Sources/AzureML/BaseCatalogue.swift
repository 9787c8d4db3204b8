import Foundation
import Plan

/// One named base image from the catalogue in `base-images/`: where it is and what is inside it.
public struct BaseImage: Sendable, Equatable, Decodable {
    public var name: String
    public var description: String?
    /// A registry reference; nil for a base built locally by `script` into the layout `layout`.
    public var reference: String?
    public var layout: String?
    public var tag: String?
    public var script: String?
    public var platforms: [String]?
    /// The interpreter, its `major.minor` and where its packages go, when the base has python.
    public var python: String?
    public var pythonVersion: String?
    public var sitePackages: String?
    /// The conda installation's root, when the base has conda.
    public var conda: String?
    public var glibc: String?
    /// The CUDA version of a GPU base.
    public var cuda: String?
    /// The name of this base's GPU variant in the catalogue.
    public var gpuVariant: String?
    /// True on the base a scoring image gets when none is named.
    public var scoringDefault: Bool?
    /// True when `azureml-inference-server-http` is already installed in its python.
    public var inferenceServer: Bool?

    /// The base's python for pip without conda.
    public var basePython: BasePython? { python.map { BasePython(interpreter: $0, sitePackages: sitePackages) } }
}

/// The catalogue of named bases: one JSON file per base in a `base-images/` directory.
///
/// The directory is `$KILN_BASE_IMAGES`, else the nearest `base-images/` above the running executable
/// (a checkout's `.build/…/kiln`) or above the working directory, else `share/kiln/base-images` beside
/// an installed binary. Locally built bases live under `$KILN_BASE_CACHE` (default
/// `~/.cache/kiln/base-images`).
public struct BaseCatalogue: Sendable {
    /// The bases by name.
    public var bases: [String: BaseImage]
    /// Where the catalogue was read from.
    public var directory: String
    /// Where locally built bases' layouts are.
    public var cache: String

    /// Reads every `*.json` in `directory`.
    public init(directory: String, cache: String = BaseCatalogue.defaultCache) throws {
        self.directory = directory
        self.cache = cache
        bases = [:]
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for file in files.sorted() where file.hasSuffix(".json") {
            let path = directory + "/" + file
            guard let data = FileManager.default.contents(atPath: path) else { throw AzureMLError.missingFile("base image entry", path) }
            do {
                let base = try JSONDecoder().decode(BaseImage.self, from: data)
                bases[base.name] = base
            } catch let error as DecodingError {
                throw AzureMLError.malformed(path, error.shortDescription)
            }
        }
    }

    /// The catalogue found by the rules above; nil when there is none.
    public static func located(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> BaseCatalogue? {
        if let explicit = environment["KILN_BASE_IMAGES"], !explicit.isEmpty {
            return try BaseCatalogue(directory: explicit, cache: cache(environment))
        }
        var starts = [FileManager.default.currentDirectoryPath]
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent().path {
            starts.insert(executable, at: 0)
            starts.append(executable + "/../share/kiln")
        }
        for start in starts {
            var directory = URL(fileURLWithPath: start).standardizedFileURL
            for _ in 0..<8 {
                let candidate = directory.appendingPathComponent("base-images").path
                if FileManager.default.fileExists(atPath: candidate + "/debian-python.json") {
                    return try BaseCatalogue(directory: candidate, cache: cache(environment))
                }
                directory.deleteLastPathComponent()
            }
        }
        return nil
    }

    /// `$KILN_BASE_CACHE`, else `~/.cache/kiln/base-images`.
    public static var defaultCache: String { cache(ProcessInfo.processInfo.environment) }

    static func cache(_ environment: [String: String]) -> String {
        if let explicit = environment["KILN_BASE_CACHE"], !explicit.isEmpty { return explicit }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.cache/kiln/base-images"
    }

    /// The base a scoring image gets when none is named.
    public var scoringDefault: BaseImage? { bases.values.sorted { $0.name < $1.name }.first { $0.scoringDefault == true } }

    /// Where `base`'s image is: its registry reference, or its local layout, which must have been built.
    public func location(of base: BaseImage) throws -> ImageLocation {
        if let reference = base.reference { return try ImageLocation(parsing: reference) }
        guard let layout = base.layout else { throw AzureMLError.invalid(directory + "/\(base.name).json", "gives neither reference nor layout") }
        let path = cache + "/" + layout
        guard FileManager.default.fileExists(atPath: path + "/index.json") else {
            let script = base.script.map { " (run \($0); it writes \(path))" } ?? ""
            throw AzureMLError.invalid(directory + "/\(base.name).json", "the base '\(base.name)' is built locally and is not built yet\(script)")
        }
        return .layout(path: path, tag: base.tag)
    }

    /// `text` as a base: a catalogue name (its GPU variant with `gpu`), else an image location.
    public static func resolve(_ text: String, in catalogue: BaseCatalogue?, gpu: Bool = false) throws -> (location: ImageLocation, entry: BaseImage?) {
        guard let catalogue, let named = catalogue.bases[text] else { return (try ImageLocation(parsing: text), nil) }
        let entry = gpu ? try catalogue.gpu(of: named) : named
        return (try catalogue.location(of: entry), entry)
    }

    /// The GPU variant of `base`, or `base` itself when it is a GPU base already.
    public func gpu(of base: BaseImage) throws -> BaseImage {
        if base.cuda != nil { return base }
        guard let name = base.gpuVariant, let variant = bases[name] else {
            throw AzureMLError.invalid(directory + "/\(base.name).json", "the base '\(base.name)' has no GPU variant; name a GPU base image")
        }
        return variant
    }
}
