import Foundation

/// Errors from Python packaging work.
public enum PipError: Error, CustomStringConvertible, Equatable {
    case invalidVersion(String)
    case invalidSpecifier(String, String)
    case invalidRequirement(String, String)
    case invalidMarker(String, String)
    case requirementsFile(String)
    case index(String)
    case metadata(String)
    case wheel(String)
    case resolution(String)
    case install(String)
    /// Building a wheel from a source distribution.
    case build(String)

    public var description: String {
        switch self {
        case let .invalidVersion(text): return "invalid Python version '\(text)' (PEP 440)"
        case let .invalidSpecifier(text, why): return "invalid version specifier '\(text)': \(why)"
        case let .invalidRequirement(text, why): return "invalid requirement '\(text)': \(why)"
        case let .invalidMarker(text, why): return "invalid environment marker '\(text)': \(why)"
        case let .requirementsFile(why), let .index(why), let .metadata(why), let .wheel(why), let .resolution(why),
             let .install(why), let .build(why):
            return why
        }
    }
}

/// A candidate the resolver skips; the reason completes "<name> <versions> …", so it is the whole message.
extension CandidateUnusable: CustomStringConvertible {
    public var description: String { reason }
}
