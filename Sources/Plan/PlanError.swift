/// A plan or image location that cannot be used as written. Messages name the value, not a flag:
/// the command line adds the flag it came from.
public enum PlanError: Error, CustomStringConvertible, Sendable {
    /// A value that does not parse or is out of range.
    case invalid(String)
    /// Input Kiln understands but does not carry out yet, refused rather than ignored.
    case notSupported(String)

    /// The detail, prefixed with "not supported yet:" for `notSupported`.
    public var description: String {
        switch self {
        case let .invalid(detail): return detail
        case let .notSupported(detail): return "not supported yet: \(detail)"
        }
    }
}
