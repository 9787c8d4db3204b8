import Foundation
import OCI
import Plan

/// Labels that say where an image came from: the OCI annotation keys (`created`, `title`,
/// `description`, and `source` and `revision` from a git checkout), the sha256 of each input file, and
/// Kiln's version. All of them come from the inputs, so the same inputs give the same labels.
public enum Provenance {
    /// The label holding the Kiln version that built the image.
    public static let versionLabel = "org.kiln.version"
    /// Input labels are `org.kiln.input.<role>`, valued `sha256:<hex>`.
    public static let inputLabelPrefix = "org.kiln.input."

    /// Adds the labels for `inputs` (role, path) to `plan`.
    public static func apply(inputs: [(String, String)], title: String?, description: String?, to plan: inout BuildPlan) throws {
        var labels = plan.config.labels
        labels["org.opencontainers.image.created"] = Timestamp.iso8601(plan.sourceDateEpoch)
        if let title, !title.isEmpty { labels["org.opencontainers.image.title"] = title }
        if let description, !description.isEmpty { labels["org.opencontainers.image.description"] = description }
        labels[versionLabel] = KilnVersion.current
        for (role, path) in inputs {
            guard let data = FileManager.default.contents(atPath: path) else { throw AzureMLError.missingFile(role, path) }
            let digest = Digest.sha256(of: data)
            labels[inputLabelPrefix + role] = digest.description
        }
        if let first = inputs.first, let checkout = GitCheckout.containing(first.1) {
            if let source = checkout.originURL { labels["org.opencontainers.image.source"] = source }
            if let revision = checkout.revision { labels["org.opencontainers.image.revision"] = revision }
        }
        plan.config.labels = labels
    }
}

/// The git checkout a file is in, read from `.git` directly (no git needed): HEAD's commit and the
/// `origin` remote's URL, without any credentials in it.
struct GitCheckout {
    var gitDirectory: String

    static func containing(_ path: String) -> GitCheckout? {
        var directory = URL(fileURLWithPath: path).standardizedFileURL.deletingLastPathComponent()
        while directory.path != "/" {
            let dotGit = directory.appendingPathComponent(".git").path
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: dotGit, isDirectory: &isDirectory) {
                if isDirectory.boolValue { return GitCheckout(gitDirectory: dotGit) }
                // A worktree's `.git` file: `gitdir: PATH`.
                guard let text = try? String(contentsOfFile: dotGit, encoding: .utf8), text.hasPrefix("gitdir: ") else { return nil }
                let target = text.dropFirst(8).trimmingCharacters(in: .whitespacesAndNewlines)
                return GitCheckout(gitDirectory: target.hasPrefix("/") ? target : directory.appendingPathComponent(target).path)
            }
            directory.deleteLastPathComponent()
        }
        return nil
    }

    /// HEAD's commit: a detached hash, or the branch's, from its ref file or `packed-refs`.
    var revision: String? {
        guard let head = read("HEAD") else { return nil }
        guard head.hasPrefix("ref: ") else { return head.count == 40 ? head : nil }
        let ref = String(head.dropFirst(5))
        if let hash = read(ref) ?? commonRead(ref) { return hash }
        let packed = (read("packed-refs") ?? commonRead("packed-refs")) ?? ""
        return packed.split(separator: "\n").first { $0.hasSuffix(" " + ref) }.map { String($0.prefix(40)) }
    }

    /// `remote "origin"`'s url, with any `user:password@` removed.
    var originURL: String? {
        guard let config = read("config") ?? commonRead("config") else { return nil }
        var inOrigin = false
        for line in config.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line.hasPrefix("[") { inOrigin = line == "[remote \"origin\"]"; continue }
            guard inOrigin, line.hasPrefix("url") , let equals = line.firstIndex(of: "=") else { continue }
            var url = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@"),
               !url[scheme.upperBound..<at].contains("/") {
                url.removeSubrange(scheme.upperBound...at)
            }
            return url
        }
        return nil
    }

    func read(_ name: String) -> String? {
        (try? String(contentsOfFile: gitDirectory + "/" + name, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A worktree keeps refs and config in the main repository, named by `commondir`.
    func commonRead(_ name: String) -> String? {
        guard let common = read("commondir") else { return nil }
        let directory = common.hasPrefix("/") ? common : gitDirectory + "/" + common
        return (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
