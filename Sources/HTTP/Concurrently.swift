/// Work over many items with a bound on how much runs at once: the downloads and installs of wheels, conda
/// packages and registry blobs.
public enum Concurrently {
    /// `body(item)` for every item, at most `limit` at a time; the results in the order of `items`. The first
    /// error cancels the rest, as a task group does.
    public static func map<Item: Sendable, T: Sendable>(_ items: [Item], limit: Int,
                                                        _ body: @escaping @Sendable (Item) async throws -> T) async throws -> [T] {
        var results = [T?](repeating: nil, count: items.count)
        try await withThrowingTaskGroup(of: (Int, T).self) { group in
            var next = 0
            func start() {
                guard next < items.count else { return }
                let position = next, item = items[next]
                next += 1
                group.addTask { (position, try await body(item)) }
            }
            for _ in 0..<max(limit, 1) { start() }
            while let (position, value) = try await group.next() {
                results[position] = value
                start()
            }
        }
        return results.compactMap { $0 }
    }
}
