import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL

extension HTTPClient {
    /// The HTTP client registry traffic shares. It follows up to five redirects (AsyncHTTPClient drops
    /// `Authorization` when one crosses origins, as the distribution spec requires), and fails a refused
    /// connection at once instead of retrying it until the request's deadline. TLS is always verified.
    public static let registry: HTTPClient = makeRegistryClient(caFile: nil)

    /// A registry client that also trusts the CA certificates in `caFile` (PEM), besides the system's.
    /// The process keeps it until exit.
    public static func makeRegistryClient(caFile: String?) -> HTTPClient {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .follow(max: 5, allowCycles: false),
                                                     timeout: .init(connect: .seconds(15), read: .seconds(300)))
        configuration.connectionPool.retryConnectionEstablishment = false
        if let caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.additionalTrustRoots = [.file(caFile)]
            configuration.tlsConfiguration = tls
        }
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }
}
