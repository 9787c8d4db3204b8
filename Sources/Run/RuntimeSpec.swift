#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import OCI

/// The OCI runtime config (`config.json`) for a smoke run, made from an image config the way
/// `runc spec` (and `runc spec --rootless`) lays it out, with three differences that suit a local
/// probe: no network namespace (the server's 127.0.0.1 port is the host's), a writable root, and
/// Docker's default capability set rather than runc's minimal one, since servers often drop privileges.
public struct RuntimeSpec: Codable, Sendable, Equatable {
    /// The runtime spec version written.
    public var ociVersion = "1.0.2"
    /// What runs, as whom, where.
    public var process: Process
    /// The root filesystem, relative to the bundle; writable, as Docker's is.
    public var root = Root(path: "rootfs", readonly: false)
    /// The container's host name (it has a UTS namespace of its own).
    public var hostname: String? = "kiln"
    /// /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys and /sys/fs/cgroup.
    public var mounts: [Mount]
    /// Namespaces, id mappings, device rules, masked and read-only paths.
    public var linux: Linux

    /// The container's process.
    public struct Process: Codable, Sendable, Equatable {
        /// Always false: output goes to the run's log file.
        public var terminal = false
        /// The ids the process runs as.
        public var user: User
        /// Entrypoint followed by Cmd.
        public var args: [String]
        /// The image's Env, with PATH and HOME added when missing.
        public var env: [String]
        /// WorkingDir, or `/`.
        public var cwd: String
        /// Docker's default capability set.
        public var capabilities: Capabilities?
        /// No privileges gained through set-id programs.
        public var noNewPrivileges = true
    }

    /// Numeric ids the process runs as.
    public struct User: Codable, Sendable, Equatable {
        /// The user id.
        public var uid: UInt32
        /// The primary group id.
        public var gid: UInt32
        /// Supplementary groups from the image's /etc/group.
        public var additionalGids: [UInt32]?

        /// A user with these ids.
        public init(uid: UInt32, gid: UInt32, additionalGids: [UInt32]? = nil) {
            self.uid = uid
            self.gid = gid
            self.additionalGids = additionalGids
        }
    }

    /// Linux capability sets, by `CAP_` name.
    public struct Capabilities: Codable, Sendable, Equatable {
        public var bounding: [String]
        public var effective: [String]
        public var permitted: [String]
    }

    /// Where the root filesystem is and whether it is read-only.
    public struct Root: Codable, Sendable, Equatable {
        public var path: String
        public var readonly: Bool
    }

    /// One mount, as `runc spec` writes it.
    public struct Mount: Codable, Sendable, Equatable {
        public var destination: String
        public var type: String
        public var source: String
        public var options: [String]?
    }

    /// The Linux-specific part of the config.
    public struct Linux: Codable, Sendable, Equatable {
        public var uidMappings: [IDMapping]?
        public var gidMappings: [IDMapping]?
        public var namespaces: [Namespace]
        public var resources: Resources?
        public var maskedPaths: [String]
        public var readonlyPaths: [String]
    }

    /// One id range of a user namespace.
    public struct IDMapping: Codable, Sendable, Equatable {
        public var containerID: UInt32
        public var hostID: UInt32
        public var size: UInt32
    }

    /// A namespace the container gets of its own: `pid`, `ipc`, `uts`, `mount`, `user`.
    public struct Namespace: Codable, Sendable, Equatable {
        public var type: String
    }

    /// cgroup settings: only the device rules `runc spec` writes.
    public struct Resources: Codable, Sendable, Equatable {
        public var devices: [DeviceRule]
    }

    /// A device cgroup rule.
    public struct DeviceRule: Codable, Sendable, Equatable {
        public var allow: Bool
        public var access: String
    }

    /// PATH when the image sets none, as Docker and runc use.
    public static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Docker's default capabilities.
    static let capabilities = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                               "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                               "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]

    /// The config for `image`'s container. `user` is the image's USER already resolved against its
    /// /etc/passwd and /etc/group. Not root (`host.uid != 0`): the spec is rootless, as
    /// `runc spec --rootless` writes it: a user namespace mapping the caller to root, /sys bound rather
    /// than mounted, no cgroup device rules.
    public init(config: ContainerConfig?, user resolved: ImageUser.Resolved, host: HostIdentity) throws {
        let config = config ?? ContainerConfig()
        let args = (config.entrypoint ?? []) + (config.cmd ?? [])
        guard !args.isEmpty else {
            throw RunError.notRunnable("it has no Entrypoint or Cmd, so there is nothing to start; set one when building it")
        }
        var env = config.env ?? []
        if !env.contains(where: { $0.hasPrefix("PATH=") }) { env.insert("PATH=\(Self.defaultPath)", at: 0) }
        if !env.contains(where: { $0.hasPrefix("HOME=") }) { env.append("HOME=\(resolved.home ?? "/")") }
        var user = resolved.user
        if host.rootless {
            guard user.uid == 0, user.gid == 0 else {
                throw RunError.notRunnable("it runs as uid \(user.uid), gid \(user.gid), but without root only uid 0 maps to your user; run kiln as root")
            }
            user.additionalGids = nil
        }
        let workingDir = config.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        let capabilities = Capabilities(bounding: Self.capabilities, effective: Self.capabilities, permitted: Self.capabilities)
        process = Process(user: user, args: args, env: env, cwd: workingDir.hasPrefix("/") ? workingDir : "/" + workingDir,
                          capabilities: capabilities)
        mounts = Self.mounts(rootless: host.rootless)
        let names = host.rootless ? ["pid", "ipc", "uts", "mount", "user"] : ["pid", "ipc", "uts", "mount"]
        linux = Linux(namespaces: names.map(Namespace.init(type:)),
                      maskedPaths: ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                                    "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
                      readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"])
        if host.rootless {
            linux.uidMappings = [IDMapping(containerID: 0, hostID: host.uid, size: 1)]
            linux.gidMappings = [IDMapping(containerID: 0, hostID: host.gid, size: 1)]
        } else {
            linux.resources = Resources(devices: [DeviceRule(allow: false, access: "rwm")])
        }
    }

    /// The mounts `runc spec` writes (`--rootless`: /sys bound read-only, devpts without gid=5).
    static func mounts(rootless: Bool) -> [Mount] {
        var mounts = [
            Mount(destination: "/proc", type: "proc", source: "proc", options: nil),
            Mount(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            Mount(destination: "/dev/pts", type: "devpts", source: "devpts",
                  options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] + (rootless ? [] : ["gid=5"])),
            Mount(destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
            Mount(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
        ]
        if rootless {
            mounts.append(Mount(destination: "/sys", type: "none", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"]))
        } else {
            mounts.append(Mount(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]))
        }
        mounts.append(Mount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"]))
        return mounts
    }
}

/// Who is running kiln: root runs containers as root; anyone else gets a rootless container.
public struct HostIdentity: Sendable, Equatable {
    /// The effective user id.
    public var uid: UInt32
    /// The effective group id.
    public var gid: UInt32
    /// Not root: the container gets a user namespace and no cgroup rules.
    public var rootless: Bool { uid != 0 }

    /// An identity with these ids.
    public init(uid: UInt32, gid: UInt32) {
        self.uid = uid
        self.gid = gid
    }

    /// This process's effective ids.
    public static var current: HostIdentity { HostIdentity(uid: geteuid(), gid: getegid()) }
}
