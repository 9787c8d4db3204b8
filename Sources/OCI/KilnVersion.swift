/// Kiln's version, defined once: the CLI's `--version` and every HTTP request's User-Agent use it.
public enum KilnVersion {
    /// The released version of Kiln.
    public static let current = "0.2.0"
    /// The User-Agent header Kiln sends to registries, channels and indexes.
    public static let userAgent = "kiln/\(current)"
}
