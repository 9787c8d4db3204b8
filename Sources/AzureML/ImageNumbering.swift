/// How AzureML numbers the images it builds into a repository: 1, 2, 3, …
public enum ImageNumbering {
    /// The tag that stands for "the next number" on the command line (`--tag auto`).
    public static let automatic = "auto"

    /// One more than the largest all-digit tag in `existing`, or 1.
    public static func nextTag(after existing: [String]) -> String {
        let numbers = existing.compactMap { tag in !tag.isEmpty && tag.allSatisfy(\.isASCII) && tag.allSatisfy(\.isNumber) ? Int(tag) : nil }
        return String((numbers.max() ?? 0) + 1)
    }
}
