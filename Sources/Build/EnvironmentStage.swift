import Archive
import Conda
import Foundation
import OCI
import Pip

/// Realizes a `CondaPlan`: solves (or reads the lock), installs into a staging directory, and splits
/// the prefix into layer specs, so that `ImageBuilder` writes them like any other layer.
///
/// Layer grouping: each package of 4 MiB or more installed gets its own layer (at most 40, the
/// largest first); the other packages share one layer, which also holds `conda-meta/`. A package's
/// layer depends only on the package and the prefix, so images with the same prefix share it.
public enum EnvironmentStage {
    public struct Result: Sendable {
        public var layers: [LayerSpec]
        public var prefix: String
        public var records: [PackageRecord]
        public var env: [EnvVar]
    }

    static let ownLayerThreshold: Int64 = 4 << 20
    static let maxOwnLayers = 40

    public static func run(_ plan: CondaPlan, platform: Platform, baseLayers: [Layer], baseEnv: [String], work: URL,
                           epoch: Int64, fetcher: Fetcher, log: (String) -> Void) async throws -> Result {
        let file = try plan.environmentFile.map(EnvironmentFile.load)
        let subdir = try CondaRequest.subdir(os: platform.os, architecture: platform.architecture)
        let overridesGlibc = plan.virtualPackages.contains { $0.hasPrefix("__glibc=") }
        let glibc = overridesGlibc ? nil : try GlibcProbe.version(in: baseLayers)
        if let glibc { log("base image glibc \(glibc)") }
        let virtual = try CondaRequest.virtualPackages(subdir: subdir, glibc: glibc, overrides: plan.virtualPackages)
        let specs = file?.dependencies ?? []
        let names = plan.channels + (file?.channels ?? [])
        var channels: [String] = []
        for url in (names.isEmpty ? ["defaults"] : names).flatMap({ ChannelURL.resolve($0, alias: plan.channelAlias) }) where !channels.contains(url) {
            channels.append(url)
        }
        let records: [PackageRecord]
        if let locked = plan.lockedFile {
            records = try LockFile.read(locked, platform: subdir, channels: channels)
            guard !records.isEmpty else { throw CondaError.lockFile("\(locked) has no conda packages for \(subdir)") }
        } else {
            guard !specs.isEmpty else { throw BuildError.invalidArgument("a conda environment needs --conda-file or --locked") }
            records = try await CondaRequest(channels: channels, specs: specs, platform: subdir, virtualPackages: virtual).solve(fetcher: fetcher)
        }
        let prefix = plan.prefix ?? file?.defaultPrefix ?? "/azureml-envs/azureml_\(lockHash(records))"
        guard prefix.hasPrefix("/"), !prefix.split(separator: "/").contains("..") else {
            throw BuildError.invalidArgument("--env-prefix '\(prefix)' must be an absolute path without '..'")
        }
        let root = work.appendingPathComponent("conda-prefix")
        let report = try await Installer.install(records, requested: specs, prefix: prefix, root: root, fetcher: fetcher,
                                                 epoch: epoch, variables: file?.variables ?? [:])
        for line in report.warnings { log("warning: " + line) }
        let pip = try await PipStage.run(plan, file: file, records: records, virtual: virtual, platform: platform, root: root,
                                         prefix: prefix, epoch: epoch, fetcher: fetcher, log: log)
        if let output = plan.writeLock {
            let condaLock = LockFile.condaLock(records, platform: subdir, channels: channels, specs: specs)
            try Atomic.write(Data((condaLock + PipLock.condaLockEntries(pip.locked, platform: subdir)).utf8), to: output)
            try Atomic.write(Data((LockFile.explicit(records, platform: subdir) + PipLock.explicitLines(pip.locked)).utf8), to: output + ".explicit.txt")
        }
        var owners = condaOwners(root, records: records)
        for wheel in pip.installed {
            owners.append(Owner(name: "pip \(wheel.name) \(wheel.version)", files: wheel.files.map { String($0.dropFirst(root.path.count + 1)) }))
        }
        let layers = try split(root, prefix: prefix, owners: owners, packageCount: records.count + pip.installed.count, work: work)
        let path = baseEnv.first { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        let libraries = baseEnv.first { $0.hasPrefix("LD_LIBRARY_PATH=") }.map { ":" + $0.dropFirst(16) } ?? ""
        let env = [EnvVar(key: "PATH", value: "\(prefix)/bin:\(path)"), EnvVar(key: "AZUREML_CONDA_ENVIRONMENT_PATH", value: prefix),
                   EnvVar(key: "LD_LIBRARY_PATH", value: "\(prefix)/lib\(libraries)")]
        return Result(layers: layers, prefix: prefix, records: records, env: env)
    }

    /// The prefix hash when only a lock is given: SHA-256 of its package URLs, sorted.
    static func lockHash(_ records: [PackageRecord]) -> String {
        String(Digest.sha256(of: Data(records.map(\.url).sorted().joined(separator: "\n").utf8)).encoded.prefix(32))
    }

    /// A package (conda or pip) and the files it put in the prefix, relative to it.
    struct Owner {
        var name: String
        var files: [String]
    }

    /// Conda packages' files, from their `conda-meta/*.json`.
    static func condaOwners(_ root: URL, records: [PackageRecord]) -> [Owner] {
        records.compactMap { record in
            let meta = root.appendingPathComponent("conda-meta/\(record.distName).json")
            guard let data = FileManager.default.contents(atPath: meta.path),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let files = object["files"] as? [String] else { return nil }
            return Owner(name: "conda \(record.distName)", files: files)
        }
    }

    /// Moves each big package's files into its own tree; the rest stay for the shared layer.
    static func split(_ root: URL, prefix: String, owners: [Owner], packageCount: Int, work: URL) throws -> [LayerSpec] {
        var sizes: [String: Int64] = [:]
        var owner: [String: String] = [:]
        for package in owners {
            for file in package.files { owner[file] = package.name }
            sizes[package.name] = package.files.reduce(0) { total, file in
                total + ((try? FileManager.default.attributesOfItem(atPath: root.appendingPathComponent(file).path)[.size] as? Int64) ?? 0)
            }
        }
        let big = sizes.filter { $0.value >= ownLayerThreshold }.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(maxOwnLayers).map(\.key).sorted()
        var layers: [LayerSpec] = []
        for name in big {
            let tree = work.appendingPathComponent("layer-\(name.replacingOccurrences(of: " ", with: "-"))")
            for (file, owned) in owner where owned == name {
                let source = root.appendingPathComponent(file)
                guard let type = (try? FileManager.default.attributesOfItem(atPath: source.path))?[.type] as? FileAttributeType else { continue }
                let target = tree.appendingPathComponent(file)
                try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                // A directory entry may hold other packages' files: recreate it, never move it.
                if type == .typeDirectory {
                    try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
                } else {
                    try FileManager.default.moveItem(at: source, to: target)
                }
            }
            layers.append(LayerSpec(kind: .environment, description: name, inputs: [LayerInput(source: tree.path, destination: prefix)]))
        }
        layers.append(LayerSpec(kind: .environment, description: "conda environment \(prefix) (\(packageCount - big.count) packages, conda-meta)",
                                inputs: [LayerInput(source: root.path, destination: prefix)]))
        return layers
    }
}

/// Reads the glibc version of an image from its layers: the newest layer holding `libc.so.6` wins,
/// and the version is the `release version X.Y` string glibc carries (or the `libc-X.Y.so` name).
enum GlibcProbe {
    static func version(in layers: [Layer]) throws -> String? {
        for layer in layers.reversed() {
            guard FileManager.default.fileExists(atPath: layer.blobPath) else { continue }
            let reader = try TarReader(path: layer.blobPath)
            while let member = try reader.next() {
                let path = member.path.hasPrefix("./") ? String(member.path.dropFirst(2)) : member.path
                let name = (path as NSString).lastPathComponent
                if name.hasPrefix("libc-"), name.hasSuffix(".so"), path.contains("lib") {
                    return String(name.dropFirst(5).dropLast(3))
                }
                guard name == "libc.so.6", member.kind == .file else { continue }
                var tail = Data()
                var found: String?
                try reader.readData { bytes in
                    guard found == nil else { return }
                    tail.append(contentsOf: bytes)
                    if let range = tail.range(of: Data("release version ".utf8)) {
                        let digits = tail[range.upperBound...].prefix { $0 == UInt8(ascii: ".") || ($0 >= 48 && $0 <= 57) }
                        if digits.count >= 3, digits.count < 12, range.upperBound + digits.count < tail.endIndex {
                            found = String(decoding: digits, as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: "."))
                        }
                    }
                    if tail.count > 64 { tail = tail.suffix(64) }
                }
                if let found { return found }
            }
        }
        return nil
    }
}
