import Foundation

/// What a conda environment is built from, as a plain value: channels, specs (or a lock), the target
/// platform's subdir and virtual packages. Front ends fill it; `solve` and `install` use it.
public struct CondaRequest: Sendable {
    public var channels: [String]
    public var specs: [MatchSpec]
    public var platform: String
    public var virtualPackages: [PackageRecord]
    public var addPipToPython = true

    public init(channels: [String], specs: [MatchSpec], platform: String, virtualPackages: [PackageRecord]) {
        self.channels = channels
        self.specs = specs
        self.platform = platform
        self.virtualPackages = virtualPackages
    }

    /// Loads the channels' repodata and solves.
    public func solve(fetcher: Fetcher) async throws -> [PackageRecord] {
        let index = try await ChannelIndex(channels: channels, platform: platform, fetcher: fetcher)
        return try Solver(source: index, virtualPackages: virtualPackages, addPipToPython: addPipToPython).solve(specs)
    }

    /// conda subdir for an image platform: linux/amd64 → linux-64, linux/arm64 → linux-aarch64.
    public static func subdir(os: String, architecture: String) throws -> String {
        switch (os, architecture) {
        case ("linux", "amd64"): return "linux-64"
        case ("linux", "arm64"): return "linux-aarch64"
        case ("linux", "ppc64le"): return "linux-ppc64le"
        case ("linux", "s390x"): return "linux-s390x"
        default: throw CondaError.environmentFile("no conda subdir for \(os)/\(architecture)")
        }
    }

    /// The virtual packages of a Linux image: `__unix`, `__linux`, `__archspec` and, when the image has
    /// a C library, `__glibc`. `overrides` (`NAME=VERSION[=BUILD]`) replace or add entries
    /// (`__cuda=12.2`), and `NAME=` removes one.
    public static func virtualPackages(subdir: String, glibc: String?, overrides: [String]) throws -> [PackageRecord] {
        let architecture = subdir == "linux-aarch64" ? "aarch64" : subdir == "linux-64" ? "x86_64" : String(subdir.split(separator: "-").last ?? "")
        var entries: [String: (String, String)] = ["__unix": ("0", "0"), "__linux": ("5.15", "0"), "__archspec": ("1", architecture)]
        if let glibc { entries["__glibc"] = (glibc, "0") }
        for text in overrides {
            let parts = text.split(separator: "=", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 2, parts[0].hasPrefix("__") else {
                throw CondaError.invalidSpec(text, "expected a virtual package as __NAME=VERSION[=BUILD]")
            }
            if parts[1].isEmpty { entries[parts[0]] = nil; continue }
            entries[parts[0]] = (parts[1], parts.count == 3 ? parts[2] : "0")
        }
        return try entries.sorted { $0.key < $1.key }.map { try PackageRecord(virtual: $0.key, version: $0.value.0, build: $0.value.1) }
    }
}
