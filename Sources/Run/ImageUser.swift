/// An image's USER (`name`, `uid`, `name:group`, `uid:gid`, …) turned into numeric ids, as Docker does:
/// names are looked up in the image's own /etc/passwd and /etc/group (never the host's); a user given
/// without a group gets its passwd group (0 when the uid has no entry) and the groups listing it.
public enum ImageUser {
    /// Numeric ids for the runtime config, and the home directory for HOME.
    public struct Resolved: Sendable, Equatable {
        /// The ids, for `process.user`.
        public var user: RuntimeSpec.User
        /// The user's passwd home, for HOME; nil when the user has no entry.
        public var home: String?
    }

    /// One line of /etc/passwd.
    struct PasswdEntry: Equatable {
        var name: String
        var uid: UInt32
        var gid: UInt32
        var home: String
    }

    /// One line of /etc/group.
    struct GroupEntry: Equatable {
        var name: String
        var gid: UInt32
        var members: [String]
    }

    /// Resolves `spec` (empty or nil means root) against the passwd and group files' text (nil when the
    /// image has none).
    public static func resolve(_ spec: String?, passwd: String?, group: String?) throws -> Resolved {
        let spec = spec ?? ""
        let users = passwd.map(parsePasswd) ?? []
        let groups = group.map(parseGroup) ?? []
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let userPart = parts.first ?? ""
        let groupPart = parts.count > 1 ? parts[1] : nil

        var entry: PasswdEntry?
        let uid: UInt32
        if userPart.isEmpty {
            uid = 0
            entry = users.first { $0.uid == 0 }
        } else if let number = UInt32(userPart) {
            uid = number
            entry = users.first { $0.uid == number }
        } else {
            guard passwd != nil else {
                throw RunError.notRunnable("its user '\(userPart)' is a name, and the image has no /etc/passwd to look it up in; use a numeric uid")
            }
            guard let found = users.first(where: { $0.name == userPart }) else {
                throw RunError.notRunnable("its user '\(userPart)' is not in the image's /etc/passwd")
            }
            entry = found
            uid = found.uid
        }

        var gid = entry?.gid ?? 0
        var additional: [UInt32] = []
        if let groupPart, !groupPart.isEmpty {
            if let number = UInt32(groupPart) {
                gid = number
            } else {
                guard group != nil else {
                    throw RunError.notRunnable("its group '\(groupPart)' is a name, and the image has no /etc/group to look it up in; use a numeric gid")
                }
                guard let found = groups.first(where: { $0.name == groupPart }) else {
                    throw RunError.notRunnable("its group '\(groupPart)' is not in the image's /etc/group")
                }
                gid = found.gid
            }
        } else if let name = entry?.name {
            additional = groups.filter { $0.members.contains(name) && $0.gid != gid }.map(\.gid)
        }
        var seen = Set<UInt32>()
        additional = additional.filter { seen.insert($0).inserted }
        return Resolved(user: RuntimeSpec.User(uid: uid, gid: gid, additionalGids: additional.isEmpty ? nil : additional),
                        home: entry?.home)
    }

    /// `name:x:uid:gid:gecos:home:shell` lines; malformed lines and comments are skipped.
    static func parsePasswd(_ text: String) -> [PasswdEntry] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 6, !fields[0].hasPrefix("#"), let uid = UInt32(fields[2]), let gid = UInt32(fields[3]) else { return nil }
            return PasswdEntry(name: fields[0], uid: uid, gid: gid, home: fields[5])
        }
    }

    /// `name:x:gid:member,member` lines.
    static func parseGroup(_ text: String) -> [GroupEntry] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 3, !fields[0].hasPrefix("#"), let gid = UInt32(fields[2]) else { return nil }
            let members = fields.count > 3 ? fields[3].split(separator: ",").map(String.init) : []
            return GroupEntry(name: fields[0], gid: gid, members: members)
        }
    }
}
