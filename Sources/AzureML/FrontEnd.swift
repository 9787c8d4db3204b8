import Foundation
import Plan

/// Choices a front end takes from the caller rather than from the files.
public struct FrontEndOptions: Sendable {
    /// A base named on the command line (a catalogue name or an image location); it wins over the files'.
    public var base: String?
    /// Whether a scoring image gets AzureML's inference server. Off, the image holds the code, models and
    /// environment only, and the caller starts a server.
    public var serve = true
    /// The catalogue of named bases; nil when there is none.
    public var catalogue: BaseCatalogue?

    public init(base: String? = nil, serve: Bool = true, catalogue: BaseCatalogue? = nil) {
        self.base = base
        self.serve = serve
        self.catalogue = catalogue
    }
}

/// What a front end made of the user's files.
public struct FrontEndResult: Sendable {
    /// The plan, ready for `Kiln.build`.
    public var plan: BuildPlan
    /// Credentials for the base image's registry, from the files; kept out of the plan.
    public var baseCredentials: InferenceConfig.RegistryCredentials?
    /// The catalogue entry of the base, when the base is a named one.
    public var base: BaseImage?
    /// What the front end decided that the user should hear (an added package, an ignored setting).
    public var notes: [String] = []
}

/// Base selection shared by the front ends: the command line's base wins, then the files' base (a
/// catalogue name or an image reference), then, for a scoring image, the catalogue's scoring default.
struct BaseChoice {
    var location: ImageLocation
    var entry: BaseImage?

    static func choose(_ fromFile: String?, options: FrontEndOptions, scoring: Bool, gpu: Bool, file: String) throws -> BaseChoice? {
        guard let text = options.base ?? fromFile else {
            guard scoring, options.serve else { return nil }
            guard let catalogue = options.catalogue, let fallback = catalogue.scoringDefault else {
                throw AzureMLError.invalid(file, "a scoring image needs a base with python, and none is named (give --base, or install the base-images/ catalogue)")
            }
            let entry = gpu ? try catalogue.gpu(of: fallback) : fallback
            return BaseChoice(location: try catalogue.location(of: entry), entry: entry)
        }
        let resolved = try BaseCatalogue.resolve(text, in: options.catalogue, gpu: gpu)
        return BaseChoice(location: resolved.location, entry: resolved.entry)
    }

    /// Sets the plan's base; for a GPU build with a conda environment, the `__cuda` virtual package too.
    func apply(to plan: inout BuildPlan, gpu: Bool, cudaVersion: String?) {
        plan.base = location
        guard gpu, let cuda = cudaVersion ?? entry?.cuda, var environment = plan.environment, environment.usesConda,
              !environment.virtualPackages.contains(where: { $0.hasPrefix("__cuda=") }) else { return }
        environment.virtualPackages.append("__cuda=\(cuda)")
        plan.environment = environment
    }
}
