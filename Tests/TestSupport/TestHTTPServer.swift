import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small in-process HTTP/1.1 server for tests that need a registry to misbehave in ways a real one
/// will not (redirects to another host). It records every request's method, URI and headers.
public final class TestHTTPServer: @unchecked Sendable {
    public struct Request: Sendable {
        public var method: String
        public var uri: String
        public var headers: [(String, String)]
        public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: Data
        public init(status: Int, headers: [(String, String)] = [], body: Data = Data()) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    public let host: String
    private let channel: Channel
    private let lock = NSLock()
    private var recorded: [Request] = []

    /// Listens on `address` (any 127.x.y.z works on Linux) at a free port; `respond` answers each request.
    public init(address: String = "127.0.0.1", respond: @escaping @Sendable (Request) -> Response) throws {
        let box = Recorder()
        channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(respond: respond, record: { box.server?.record($0) }))
                }
            }
            .bind(host: address, port: 0).wait()
        host = "\(address):\(channel.localAddress?.port ?? 0)"
        box.server = self
    }

    deinit { try? channel.close().wait() }

    public var requests: [Request] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    func record(_ request: Request) {
        lock.lock()
        recorded.append(request)
        lock.unlock()
    }

    final class Recorder: @unchecked Sendable { weak var server: TestHTTPServer? }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let respond: @Sendable (Request) -> Response
        let record: @Sendable (Request) -> Void
        var head: HTTPRequestHead?

        init(respond: @escaping @Sendable (Request) -> Response, record: @escaping @Sendable (Request) -> Void) {
            self.respond = respond
            self.record = record
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case let .head(head): self.head = head
            case .body: break
            case .end:
                guard let head else { return }
                let request = Request(method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) })
                record(request)
                let response = respond(request)
                var headers = HTTPHeaders(response.headers)
                headers.replaceOrAdd(name: "Content-Length", value: "\(response.body.count)")
                let status = HTTPResponseStatus(statusCode: response.status)
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
                if head.method != .HEAD {
                    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
                }
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
