/// Where an image's server answers: a port on the container's loopback and a path, written `PORT:PATH`
/// (`5001:/score`). Front ends record an image's routes as labels; `kiln run` reads them back to know
/// what to wait for and where to POST.
public struct Route: Sendable, Equatable, Encodable, CustomStringConvertible {
    /// The TCP port.
    public var port: Int
    /// The path, starting with `/`; may carry a query.
    public var path: String

    /// The label of the route to wait for.
    public static let readinessLabel = "org.kiln.route.readiness"
    /// The label of the route that says the server is alive; waited for when there is no readiness route.
    public static let livenessLabel = "org.kiln.route.liveness"
    /// The label of the route a request is POSTed to.
    public static let scoringLabel = "org.kiln.route.scoring"

    /// A route to `path` (a leading `/` is added when missing) on `port`.
    public init(port: Int, path: String) {
        self.port = port
        self.path = path.hasPrefix("/") ? path : "/" + path
    }

    /// Parses `PORT:PATH`; `origin` (a label or an option) is named in the error.
    public init(parsing text: String, origin: String) throws {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let port = Int(parts[0]), (1...65535).contains(port), parts[1].hasPrefix("/"),
              !parts[1].contains(where: { $0.isWhitespace }) else {
            throw PlanError.invalid("\(origin) '\(text)' must be PORT:PATH, such as 5001:/score")
        }
        self.init(port: port, path: String(parts[1]))
    }

    /// `http://127.0.0.1:PORT/PATH`.
    public var url: String { "http://127.0.0.1:\(port)\(path)" }

    /// `PORT:PATH`.
    public var description: String { "\(port):\(path)" }
}
