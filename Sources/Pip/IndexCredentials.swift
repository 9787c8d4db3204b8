import Foundation

/// Credentials for index hosts, as pip finds them: userinfo in an index URL (`https://user:token@host/simple`)
/// applies to every request to that host; otherwise netrc (`$NETRC`, else `~/.netrc`) by host name.
public struct IndexCredentials: Sendable {
    var byHost: [String: String] = [:]
    var netrc: [String: (String, String)] = [:]
    var netrcDefault: (String, String)?

    public init(indexURLs: [String], netrcPath: String? = IndexCredentials.defaultNetrcPath) {
        for url in indexURLs {
            guard let parts = URLComponents(string: url), let host = parts.host, let user = parts.percentEncodedUser else { continue }
            let login = user.removingPercentEncoding ?? user
            let password = parts.percentEncodedPassword.map { $0.removingPercentEncoding ?? $0 } ?? ""
            byHost[Self.hostKey(parts)] = Self.basic(login, password)
            _ = host
        }
        if let netrcPath, let text = try? String(contentsOfFile: netrcPath, encoding: .utf8) { parseNetrc(text) }
    }

    public static var defaultNetrcPath: String? {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["NETRC"], !explicit.isEmpty { return explicit }
        return NSHomeDirectory() + "/.netrc"
    }

    /// The request URL without userinfo, and the Authorization header for it, if any.
    public func prepare(_ url: String) -> (url: String, authorization: String?) {
        guard var parts = URLComponents(string: url), parts.host != nil else { return (url, nil) }
        var authorization: String?
        if let user = parts.percentEncodedUser {
            authorization = Self.basic(user.removingPercentEncoding ?? user,
                                       parts.percentEncodedPassword.map { $0.removingPercentEncoding ?? $0 } ?? "")
            parts.percentEncodedUser = nil
            parts.percentEncodedPassword = nil
        }
        let bare = parts.string ?? url
        if authorization == nil { authorization = byHost[Self.hostKey(parts)] }
        if authorization == nil, let host = parts.host, let entry = netrc[host] ?? netrcDefault {
            authorization = Self.basic(entry.0, entry.1)
        }
        return (bare, authorization)
    }

    static func hostKey(_ parts: URLComponents) -> String { (parts.host ?? "").lowercased() + (parts.port.map { ":\($0)" } ?? "") }

    static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    mutating func parseNetrc(_ text: String) {
        let tokens = text.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        var index = 0
        var machine: String?
        var isDefault = false
        var login = "", password = ""
        func flush() {
            if let machine { netrc[machine.lowercased()] = (login, password) } else if isDefault { netrcDefault = (login, password) }
            machine = nil; isDefault = false; login = ""; password = ""
        }
        while index < tokens.count {
            let token = tokens[index]
            let next = index + 1 < tokens.count ? tokens[index + 1] : ""
            switch token {
            case "machine": flush(); machine = next; index += 2
            case "default": flush(); isDefault = true; index += 1
            case "login": login = next; index += 2
            case "password": password = next; index += 2
            case "account": index += 2
            case "macdef": index = tokens.count
            default: index += 1
            }
        }
        flush()
    }
}
