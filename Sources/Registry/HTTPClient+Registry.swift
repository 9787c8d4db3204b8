import AsyncHTTPClient
import NIOCore

extension HTTPClient {
    /// The HTTP client registry traffic shares. It follows up to five redirects (AsyncHTTPClient drops
    /// `Authorization` when one crosses origins, as the distribution spec requires), and fails a refused
    /// connection at once instead of retrying it until the request's deadline.
    public static let registry: HTTPClient = {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .follow(max: 5, allowCycles: false),
                                                     timeout: .init(connect: .seconds(15), read: .seconds(300)))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()
}
