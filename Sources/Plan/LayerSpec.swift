/// One layer to write: a named group of host inputs.
public struct LayerSpec: Sendable, Equatable {
    /// What the layer holds, which decides its place in the image: the less often a kind changes, the
    /// lower its layer, so that a code edit leaves the model's layer shared.
    public enum Kind: Sendable, Equatable {
        /// The kinds, from the least to the most often changed: environment, model, extra files, code.
        case environment, model, files, code

        var rank: Int {
            switch self {
            case .environment: return 0
            case .model: return 1
            case .files: return 2
            case .code: return 3
            }
        }
    }

    /// What the layer holds, which decides its position.
    public var kind: Kind
    /// A short description for the image history: "model churn:3".
    public var description: String
    /// The host files and directories that make up the layer.
    public var inputs: [LayerInput]

    /// A layer of `kind` with a history description and its inputs.
    public init(kind: Kind, description: String, inputs: [LayerInput]) {
        self.kind = kind
        self.description = description
        self.inputs = inputs
    }
}

/// A host file or directory and where it goes in the image.
///
/// A directory's contents go under `destination`. A file goes to `destination`, or into it when
/// `destination` ends with `/`.
public struct LayerInput: Sendable, Equatable {
    /// A path on the build machine.
    public var source: String
    /// An absolute path in the image.
    public var destination: String
    /// Files of a `source` directory that were never written to it: their bytes are members of archives
    /// (an environment's wheels), read straight into the layer.
    public var members: [StagedMember]

    /// An input copying `source` on the host to `destination` in the image.
    public init(source: String, destination: String, members: [StagedMember] = []) {
        self.source = source
        self.destination = destination
        self.members = members
    }
}
