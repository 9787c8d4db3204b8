/// Errors from running an image locally. Each is one line that names what failed and what to do.
public enum RunError: Error, CustomStringConvertible, Sendable {
    /// No runc executable on PATH (or in /usr/sbin, /sbin).
    case runcNotFound
    /// A layer member that would land outside the root, or through a link out of it.
    case hostileLayer(layer: String, member: String, reason: String)
    /// A layer that cannot be unpacked for another reason (a full disk, a broken archive).
    case unpack(layer: String, detail: String)
    /// The image config cannot be turned into a container: no command, an unknown user.
    case notRunnable(String)

    /// No route to wait for: no readiness or liveness label, no exposed port, none given.
    case noRoute
    /// runc could not be started, or a bundle could not be written.
    case runtime(String)
    /// The server never answered within the timeout.
    case notAnswered(url: String, seconds: Double, lastAttempt: String, log: String)
    /// The container's process ended before the server answered.
    case exited(status: Int32, url: String, log: String)
    /// The scoring request could not be sent or answered.
    case request(url: String, detail: String)

    /// The one-line message.
    public var description: String {
        switch self {
        case .runcNotFound:
            return "runc not found on PATH: install it (apt-get install runc)"
        case let .hostileLayer(layer, member, reason):
            return "layer \(layer): refused member '\(member)': \(reason); the layer is unsafe to unpack"
        case let .unpack(layer, detail):
            return "unpacking layer \(layer): \(detail)"
        case let .notRunnable(detail):
            return "the image cannot be run: \(detail)"
        case .noRoute:
            return "the image names no route to wait for (no org.kiln.route.readiness or org.kiln.route.liveness label, "
                + "no exposed port): give the route to probe"
        case let .runtime(detail):
            return "runc: \(detail)"
        case let .notAnswered(url, seconds, lastAttempt, log):
            return "server did not answer GET \(url) within \(Self.format(seconds)) s (last attempt: \(lastAttempt)); last log lines: \(log)"
        case let .exited(status, url, log):
            return "the container exited with status \(status) before GET \(url) answered; last log lines: \(log)"
        case let .request(url, detail):
            return "POST \(url): \(detail)"
        }
    }

    /// `3` for 3.0, `2.5` for 2.5.
    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}
