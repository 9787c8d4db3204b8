import AsyncHTTPClient
import Foundation
import HTTP
import NIOCore
import OCI

extension RegistryClient {
    /// Every tag in `repository`, following `Link: <…>; rel="next"` pages. A server that ignores `n` or
    /// sends no Link simply gives one page; a Link that repeats itself or adds nothing ends the walk. A
    /// Link to another host is refused: the next request would carry this registry's credentials there.
    /// nil when the repository does not exist.
    public func tags(_ repository: String, pageSize: Int? = nil) async throws -> [String]? {
        var next: String? = url("/v2/\(repository)/tags/list") + (pageSize.map { "?n=\($0)" } ?? "")
        var seenPages = Set<String>()
        var all: [String] = []
        var known = Set<String>()
        while let page = next, seenPages.insert(page).inserted {
            let response = try await send([.pull(repository)]) { HTTPClientRequest(url: page) }
            if response.status == .notFound, all.isEmpty {
                await response.body.discard(from: page)
                return nil
            }
            guard response.status == .ok else { throw await failure(response, method: "GET", url: page) }
            let body = try await response.body.collect(upTo: 16 << 20, from: page)
            struct TagList: Decodable { var tags: [String]? }
            guard let list = try? JSONDecoder().decode(TagList.self, from: Data(body.readableBytesView)) else {
                throw RegistryError.protocolViolation("tag list of \(repository) is not valid JSON")
            }
            let fresh = (list.tags ?? []).filter { known.insert($0).inserted }
            all += fresh
            next = fresh.isEmpty ? nil : Self.nextLink(response.headers["Link"]).map(resolve)
            if let link = next, !link.hasPrefix(baseURL + "/") {
                throw RegistryError.protocolViolation("\(registry) sent a tag-list Link to another host (\(SafeURL(link))); not followed")
            }
        }
        return all
    }

    /// The target of the `rel="next"` entry in Link headers (RFC 8288).
    static func nextLink(_ values: [String]) -> String? {
        for value in values {
            for entry in value.split(separator: ",") {
                let parts = entry.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                guard let target = parts.first, target.hasPrefix("<"), target.hasSuffix(">"),
                      parts.dropFirst().contains(where: { $0.replacingOccurrences(of: "\"", with: "").lowercased() == "rel=next" })
                else { continue }
                return String(target.dropFirst().dropLast())
            }
        }
        return nil
    }
}
