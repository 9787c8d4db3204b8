import Foundation
import Testing
import TestSupport

/// The README's first command, `bash scripts/example.sh`, on a fresh machine. Its first step,
/// `bash scripts/needs.sh example`, runs in a minimal Debian bookworm root (`debootstrap --variant=minbase`:
/// bash, dpkg and apt, none of Kiln's packages, no sudo) under chroot, in a clean environment (`env -i`).
/// Unprivileged and without sudo it stops with the exact install line; as root, or as a user with sudo, it
/// installs the packages from Debian; a second run is silent.
@Suite(.serialized, .timeLimit(.minutes(20)),
       .enabled(if: getuid() == 0, "needs root: debootstrap, chroot and mounts"))
struct FreshMachineTests {
    static let needs = fixturePath("../scripts/needs.sh")

    /// The `example` set, read from needs.sh itself (its arrays come before its `case`).
    static func exampleSet() throws -> [String] {
        let listed = try run("/bin/bash", ["-c", #"eval "$(sed '/^case /,$d' "$1")"; printf '%s\n' "${example[@]}""#, "bash", needs])
        try #require(listed.status == 0, "\(listed.stderr)")
        let set = listed.stdout.split(separator: "\n").map(String.init)
        for package in ["libarchive-dev", "zlib1g-dev", "libzstd-dev", "libisal-dev", "pkg-config", "debootstrap", "runc", "python3-venv"] {
            #expect(set.contains(package), "\(set)")
        }
        return set
    }

    /// The Debian mirror this machine's apt uses for bookworm (deb822 .sources, then sources.list), else deb.debian.org.
    static func mirror() -> String {
        let directory = "/etc/apt/sources.list.d"
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted() where name.hasSuffix(".sources") {
            let text = (try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8)) ?? ""
            for stanza in text.components(separatedBy: "\n\n") {
                var fields: [String: [String]] = [:]
                for line in stanza.split(separator: "\n") where !line.hasPrefix("#") {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    fields[String(line[..<colon])] = line[line.index(after: colon)...].split(whereSeparator: \.isWhitespace).map(String.init)
                }
                if fields["Types"]?.contains("deb") == true, fields["Suites"]?.contains("bookworm") == true,
                   let uri = fields["URIs"]?.first(where: { $0.hasPrefix("http://") || $0.hasPrefix("https://") }) {
                    return uri
                }
            }
        }
        for line in ((try? String(contentsOfFile: "/etc/apt/sources.list", encoding: .utf8)) ?? "").split(separator: "\n") {
            var words = line.split(whereSeparator: \.isWhitespace).map(String.init)   // deb [options] URI SUITE COMPONENTS
            guard words.first == "deb" else { continue }
            words.removeFirst()
            if words.first?.hasPrefix("[") == true { words = Array(words.drop { !$0.hasSuffix("]") }.dropFirst()) }
            if words.count >= 2, words[1] == "bookworm", words[0].hasPrefix("http") { return words[0] }
        }
        return "http://deb.debian.org/debian"
    }

    /// The pristine minbase root, made once per machine in ~/.cache/kiln-tests/fresh-bookworm/<key of the
    /// debootstrap command>: debootstrap writes a hidden sibling that is renamed into place when complete.
    static let pristine = Result { () throws -> String in
        let command = ["--variant=minbase", "bookworm", "ROOT", mirror()]
        let cache = (ProcessInfo.processInfo.environment["HOME"] ?? NSTemporaryDirectory()) + "/.cache/kiln-tests/fresh-bookworm"
        let root = "\(cache)/\(sha256Hex("debootstrap " + command.joined(separator: " ")).prefix(16))"
        if FileManager.default.fileExists(atPath: root) { return root }
        if (try? which("debootstrap")) == nil {
            let installed = try run("/bin/bash", [needs, "example"])   // debootstrap is in the example set
            guard installed.status == 0 else { throw ToolMissing(name: "debootstrap (\(installed.stderr.suffix(400)))") }
        }
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        let building = "\(cache)/.building-\(UUID().uuidString)"
        defer {
            for mount in ["proc", "sys"] { _ = try? run("umount", ["-l", "\(building)/\(mount)"]) }
            _ = try? run("rm", ["-rf", "--one-file-system", building])
        }
        let made = try run("timeout", ["--kill-after=30", "900", try which("debootstrap")] + command.map { $0 == "ROOT" ? building : $0 })
        guard made.status == 0 else {
            throw ToolMissing(name: "a debootstrap root (\(made.stdout.suffix(400))\(made.stderr.suffix(400)))")
        }
        // Another process may have renamed its root into place first: then that one is used.
        guard rename(building, root) == 0 || FileManager.default.fileExists(atPath: root) else {
            throw ToolMissing(name: "the cached root \(root) (rename: errno \(errno))")
        }
        return root
    }

    /// A throw-away copy of the pristine root (an overlay on it, else `cp -a`), with /proc mounted, the host's
    /// resolv.conf and needs.sh at /needs.sh; unmounted and removed after `body`, whatever happens.
    static func withFreshMachine(_ body: (Machine) throws -> Void) throws {
        let pristine = try pristine.get()
        let scratch = try TemporaryDirectory("fresh-machine")
        for directory in ["root", "upper", "work"] { try scratch.mkdir(directory) }
        let machine = Machine(root: scratch.file("root"))
        defer {
            for mount in ["proc", ""] where (try? run("umount", [machine.root + "/" + mount]))?.status != 0 {
                _ = try? run("umount", ["-l", machine.root + "/" + mount])
            }
            _ = try? run("rm", ["-rf", "--one-file-system", scratch.path])
        }
        let overlay = try run("mount", ["-t", "overlay", "overlay", "-o",
                                        "lowerdir=\(pristine),upperdir=\(scratch.file("upper")),workdir=\(scratch.file("work"))", machine.root])
        if overlay.status != 0 {
            let copied = try run("cp", ["-a", pristine + "/.", machine.root])
            try #require(copied.status == 0, "copying the pristine root: \(copied.stderr)")
        }
        let proc = try run("mount", ["-t", "proc", "proc", machine.root + "/proc"])
        try #require(proc.status == 0, "mounting /proc: \(proc.stderr)")
        try? FileManager.default.removeItem(atPath: machine.root + "/etc/resolv.conf")
        try #require(FileManager.default.createFile(atPath: machine.root + "/etc/resolv.conf", contents: FileManager.default.contents(atPath: "/etc/resolv.conf")))
        try FileManager.default.copyItem(atPath: needs, toPath: machine.root + "/needs.sh")
        try body(machine)
    }

    struct Machine {
        let root: String

        /// `command` in the root, as `user` (a chroot --userspec) or root, in a clean environment, within `seconds`.
        func run(_ command: [String], as user: String? = nil, seconds: Int = 60) throws -> ProcessResult {
            try TestSupport.run("/usr/bin/env", ["-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
                                                 "HOME=\(user == nil ? "/root" : "/tmp")", try which("timeout"), "--kill-after=30", "\(seconds)",
                                                 try which("chroot")] + (user.map { ["--userspec=\($0)"] } ?? []) + [root] + command)
        }

        /// The packages of `set` that dpkg in the root does not report installed, in order.
        func notInstalled(_ set: [String]) throws -> [String] {
            let shown = try run(["dpkg-query", "--show", "--showformat=${Package} ${db:Status-Status}\\n"] + set)
            let installed = Set(shown.stdout.split(separator: "\n").compactMap { line -> String? in
                let fields = line.split(separator: " ")
                return fields.count == 2 && fields[1] == "installed" ? String(fields[0]) : nil
            })
            return set.filter { !installed.contains($0) }
        }

        /// needs.sh ran: the packages are installed, their libraries found by pkg-config, their tools on PATH, and
        /// a second run, as root or not, is silent.
        func expectInstalled(_ set: [String]) throws {
            #expect(try notInstalled(set).isEmpty)
            let found = try run(["pkg-config", "--exists", "libarchive", "zlib", "libzstd", "libisal"])
            #expect(found.status == 0, "\(found.stderr)")
            let tools = try run(["bash", "-c", "command -v debootstrap runc python3"])
            #expect(tools.status == 0 && tools.stdout.split(separator: "\n").count == 3, "\(tools.stdout)\(tools.stderr)")
            for user in [nil, "65534:65534"] {
                let again = try run(["bash", "/needs.sh", "example"], as: user)
                #expect(again.status == 0 && again.stdout.isEmpty && again.stderr.isEmpty, "\(again.stdout)\(again.stderr)")
            }
        }
    }

    /// The first line is `kiln: installing …` naming the whole set; no apt error, warning or debconf complaint.
    static func expectInstalling(_ result: ProcessResult, _ set: [String], took seconds: TimeInterval) {
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty, "\(result.stdout)")
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.first == "kiln: installing \(set.joined(separator: " "))", "\(result.stderr)")
        #expect(!lines.contains { $0.hasPrefix("E:") || $0.hasPrefix("W:") || $0.hasPrefix("debconf:") || $0.hasPrefix("sudo:") },
                "\(result.stderr)")
        #expect(seconds < 600, "needs.sh took \(Int(seconds)) s")
    }

    @Test func withoutRootOrSudoItStopsWithTheExactInstallLine() throws {
        let set = try Self.exampleSet()
        try Self.withFreshMachine { machine in
            #expect(try machine.notInstalled(set) == set, "a minbase root has none of the example's packages")
            #expect(try machine.run(["bash", "-c", "command -v sudo"]).status != 0)
            let result = try machine.run(["bash", "/needs.sh", "example"], as: "65534:65534")
            #expect(result.status == 1)
            #expect(result.stdout.isEmpty, "\(result.stdout)")
            #expect(result.stderr == "kiln: missing Debian packages; install them with: sudo apt-get install \(set.joined(separator: " "))\n")
            #expect(try machine.notInstalled(set) == set)
        }
    }

    @Test func asRootItInstallsThemFromDebian() throws {
        let set = try Self.exampleSet()
        try Self.withFreshMachine { machine in
            #expect(try machine.notInstalled(set) == set, "a minbase root has none of the example's packages")
            let start = Date()
            let result = try machine.run(["bash", "/needs.sh", "example"], seconds: 600)
            Self.expectInstalling(result, set, took: Date().timeIntervalSince(start))
            try machine.expectInstalled(set)
        }
    }

    /// The `sudo -n` branch: a user with password-less sudo (installed first, and the host name in /etc/hosts, as on
    /// a fresh cloud VM), so the apt-get settings must pass through sudo's env_reset.
    @Test func withSudoItInstallsThemThroughSudo() throws {
        let set = try Self.exampleSet()
        try Self.withFreshMachine { machine in
            let sudo = try machine.run(["bash", "-c", """
                set -e
                export DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes
                apt-get update -qq && apt-get install -y -qq -o Dpkg::Use-Pty=0 sudo >/dev/null
                useradd --uid 1500 --user-group --create-home builder
                echo "127.0.1.1 $(cat /proc/sys/kernel/hostname)" >> /etc/hosts   # as an installed machine's
                echo 'builder ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/builder && chmod 0440 /etc/sudoers.d/builder
                """], seconds: 600)
            try #require(sudo.status == 0, "installing sudo in the root: \(sudo.stderr)")
            #expect(try machine.notInstalled(set) == set)
            let start = Date()
            let result = try machine.run(["bash", "/needs.sh", "example"], as: "1500:1500", seconds: 600)
            Self.expectInstalling(result, set, took: Date().timeIntervalSince(start))
            try machine.expectInstalled(set)
        }
    }
}
