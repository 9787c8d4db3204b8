import Foundation

/// A wheel file name: `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`, each tag part a
/// `.`-separated set (`py2.py3`, `manylinux_2_17_x86_64.manylinux2014_x86_64`).
public struct WheelName: Sendable, Hashable {
    public var name: String
    public var version: PythonVersion
    public var build: String?
    public var pythonTags: [String]
    public var abiTags: [String]
    public var platformTags: [String]

    public init?(_ fileName: String) {
        guard fileName.hasSuffix(".whl") else { return nil }
        let parts = fileName.dropLast(4).split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5 || parts.count == 6, let version = try? PythonVersion(parts[1]) else { return nil }
        name = parts[0]
        self.version = version
        build = parts.count == 6 ? parts[2] : nil
        pythonTags = parts[parts.count - 3].split(separator: ".").map(String.init)
        abiTags = parts[parts.count - 2].split(separator: ".").map(String.init)
        platformTags = parts[parts.count - 1].split(separator: ".").map(String.init)
    }

    /// Every `python-abi-platform` triple the name expands to.
    public var tags: [String] {
        pythonTags.flatMap { python in abiTags.flatMap { abi in platformTags.map { "\(python)-\(abi)-\($0)" } } }
    }
}

/// The source distribution a file name denotes, if it is one.
public func isSourceDistribution(_ fileName: String) -> Bool {
    [".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar"].contains { fileName.lowercased().hasSuffix($0) }
}

/// The interpreter and platform wheels are chosen for: CPython X.Y on Linux, glibc G, one architecture.
public struct PythonTarget: Sendable, Hashable {
    /// The environment's python (from its conda record), e.g. 3.11.4.
    public var python: PythonVersion
    /// The base image's glibc (major, minor); nil when it has none (only `linux_<arch>` and pure wheels fit).
    public var glibc: (Int, Int)?
    /// uname -m spelling: x86_64, aarch64, ppc64le, s390x.
    public var machine: String

    public init(python: PythonVersion, glibc: (Int, Int)?, machine: String) {
        self.python = python
        self.glibc = glibc
        self.machine = machine
    }

    /// `MAJOR.MINOR[.…]` (a glibc version as conda's `__glibc` or `--glibc` gives it), or nil.
    public static func glibc(parsing text: String) -> (Int, Int)? {
        let parts = text.split(separator: ".").compactMap { Int($0) }
        return parts.count >= 2 ? (parts[0], parts[1]) : nil
    }

    /// From an OCI architecture (amd64, arm64, ppc64le, s390x).
    public static func machine(forArchitecture architecture: String) -> String {
        switch architecture {
        case "amd64": return "x86_64"
        case "arm64": return "aarch64"
        case "386": return "i686"
        default: return architecture
        }
    }

    public static func == (a: PythonTarget, b: PythonTarget) -> Bool {
        a.python == b.python && a.glibc?.0 == b.glibc?.0 && a.glibc?.1 == b.glibc?.1 && a.machine == b.machine
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(python)
        hasher.combine(glibc?.0)
        hasher.combine(glibc?.1)
        hasher.combine(machine)
    }

    public var major: Int { python.release.first ?? 3 }
    public var minor: Int { python.release.count > 1 ? python.release[1] : 0 }

    /// `lib/pythonX.Y/site-packages`.
    public var sitePackages: String { "lib/python\(major).\(minor)/site-packages" }

    public var markers: MarkerEnvironment { MarkerEnvironment(python: python, machine: machine) }

    /// Platform tags, best first, as `packaging.tags` orders them: manylinux from the target glibc down
    /// to the oldest for the architecture, each legacy alias right after its equivalent, then `linux_<arch>`.
    public var platforms: [String] {
        var result: [String] = []
        if let glibc, glibc.0 == 2 {
            let oldest = ["x86_64", "i686"].contains(machine) ? 5 : 17
            if glibc.1 >= oldest {
                for minor in stride(from: glibc.1, through: oldest, by: -1) {
                    result.append("manylinux_2_\(minor)_\(machine)")
                    if minor == 17, ["x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x"].contains(machine) {
                        result.append("manylinux2014_\(machine)")
                    }
                    if minor == 12, ["x86_64", "i686"].contains(machine) { result.append("manylinux2010_\(machine)") }
                    if minor == 5, ["x86_64", "i686"].contains(machine) { result.append("manylinux1_\(machine)") }
                }
            }
        }
        result.append("linux_\(machine)")
        return result
    }

    /// Every supported tag, best first (`packaging.tags.sys_tags` for CPython: `cpython_tags` then `compatible_tags`).
    public var supportedTags: [String] {
        let cp = "cp\(major)\(minor)"
        let platforms = platforms
        var tags: [String] = []
        for abi in [cp, "abi3", "none"] { tags += platforms.map { "\(cp)-\(abi)-\($0)" } }
        for older in stride(from: minor - 1, through: 2, by: -1) { tags += platforms.map { "cp\(major)\(older)-abi3-\($0)" } }
        let pythons = ["py\(major)\(minor)", "py\(major)"] + stride(from: minor - 1, through: 0, by: -1).map { "py\(major)\($0)" }
        for python in pythons { tags += platforms.map { "\(python)-none-\($0)" } }
        tags.append("\(cp)-none-any")
        tags += pythons.map { "\($0)-none-any" }
        return tags
    }

    /// Rank of each supported tag: lower is better.
    public var tagRanks: [String: Int] {
        var ranks: [String: Int] = [:]
        for (index, tag) in supportedTags.enumerated() where ranks[tag] == nil { ranks[tag] = index }
        return ranks
    }
}

extension WheelName {
    /// The best (lowest) rank of any of this wheel's tags for the target, or nil when none is supported.
    public func rank(_ ranks: [String: Int]) -> Int? { tags.compactMap { ranks[$0] }.min() }
}
