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
        /// How many body bytes arrived (up to the cut, for a request `cutBody` cut).
        public var bodyBytes = 0
        public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: Data
        /// How the body is sent, for servers that misbehave on purpose.
        public var delivery: Delivery = .whole
        public init(status: Int, headers: [(String, String)] = [], body: Data = Data(), delivery: Delivery = .whole) {
            self.status = status
            self.headers = headers
            self.body = body
            self.delivery = delivery
        }
    }

    /// Ways of sending a body.
    public enum Delivery: Sendable {
        /// All at once, with its true Content-Length.
        case whole
        /// One byte every `interval` seconds, with its true Content-Length.
        case trickle(interval: Double)
        /// `body` repeated (chunked, no Content-Length) until `total` bytes or the client goes away.
        case endless(total: Int64)
        /// The body, announced with `declared` as Content-Length; the connection closes after the body.
        case declaredLength(Int)
    }

    public let host: String
    private let channel: Channel
    private let lock = NSLock()
    private var recorded: [Request] = []

    /// Listens on `address` (any 127.x.y.z works on Linux) at a free port; `respond` answers each request.
    /// A request for which `cutBody` is true gets no answer: the connection closes once its body has started
    /// to arrive, as a server or proxy that drops an upload half-way does.
    public init(address: String = "127.0.0.1", cutBody: (@Sendable (Request) -> Bool)? = nil,
                respond: @escaping @Sendable (Request) -> Response) throws {
        let box = Recorder()
        channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(respond: respond, cutBody: cutBody, record: { box.server?.record($0) }))
                }
            }
            .bind(host: address, port: 0).wait()
        host = "\(address):\(channel.localAddress?.port ?? 0)"
        box.server = self
    }

    deinit {
        // The last reference may go on an event loop thread (a handler's closure held it): waiting there
        // would trap, so the close is only started.
        if MultiThreadedEventLoopGroup.currentEventLoop != nil {
            channel.close(promise: nil)
        } else {
            try? channel.close().wait()
        }
    }

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
        let cutBody: (@Sendable (Request) -> Bool)?
        let record: @Sendable (Request) -> Void
        var head: HTTPRequestHead?
        var bodyBytes = 0

        init(respond: @escaping @Sendable (Request) -> Response, cutBody: (@Sendable (Request) -> Bool)?,
             record: @escaping @Sendable (Request) -> Void) {
            self.respond = respond
            self.cutBody = cutBody
            self.record = record
        }

        func request(_ head: HTTPRequestHead) -> Request {
            Request(method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) }, bodyBytes: bodyBytes)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case let .head(head):
                self.head = head
                bodyBytes = 0
            case let .body(buffer):
                bodyBytes += buffer.readableBytes
                if let head, let cutBody, cutBody(request(head)) {
                    record(request(head))
                    self.head = nil
                    context.close(promise: nil)
                }
            case .end:
                guard let head else { return }
                let request = request(head)
                record(request)
                let response = respond(request)
                var headers = HTTPHeaders(response.headers)
                switch response.delivery {
                case .endless: headers.replaceOrAdd(name: "Transfer-Encoding", value: "chunked")
                case let .declaredLength(length): headers.replaceOrAdd(name: "Content-Length", value: "\(length)")
                default: headers.replaceOrAdd(name: "Content-Length", value: "\(response.body.count)")
                }
                let status = HTTPResponseStatus(statusCode: response.status)
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
                guard head.method != .HEAD else {
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                    return
                }
                switch response.delivery {
                case .whole:
                    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                case let .trickle(interval):
                    Self.trickle(Array(response.body), from: 0, every: interval, channel: context.channel)
                case let .endless(total):
                    let chunk = ByteBuffer(bytes: response.body.isEmpty ? Data(repeating: 0x20, count: 65536) : response.body)
                    Self.pour(chunk, sent: 0, total: total, channel: context.channel)
                case .declaredLength:
                    let channel = context.channel
                    context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body))))).whenComplete { _ in
                        channel.close(promise: nil)
                    }
                }
            }
        }

        // The slow deliveries below hold the `Channel`, not the handler's context: they outlive
        // `channelRead`, and a context must not be used once the pipeline is torn down.

        /// Sends one byte, then schedules the next, until the body is done or the client closes.
        static func trickle(_ bytes: [UInt8], from index: Int, every interval: Double, channel: Channel) {
            guard channel.isActive else { return }
            guard index < bytes.count else {
                channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
                return
            }
            channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: [bytes[index]]))), promise: nil)
            channel.eventLoop.scheduleTask(in: .milliseconds(Int64(interval * 1000))) {
                trickle(bytes, from: index + 1, every: interval, channel: channel)
            }
        }

        /// Writes `chunk` again once the last write is flushed, so memory stays flat on both sides. The next
        /// write is a new event-loop task: a write that completes at once runs its callback inline, and
        /// recursing there overflowed the event loop's stack with a fast reader.
        static func pour(_ chunk: ByteBuffer, sent: Int64, total: Int64, channel: Channel) {
            guard channel.isActive else { return }
            guard sent < total else {
                channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
                return
            }
            channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(chunk))).whenComplete { result in
                guard case .success = result else { return }
                channel.eventLoop.execute {
                    pour(chunk, sent: sent + Int64(chunk.readableBytes), total: total, channel: channel)
                }
            }
        }
    }
}
