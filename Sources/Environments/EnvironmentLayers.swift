import Archive
import Conda
import Foundation
import Pip
import Plan

/// Splits an installed environment into layer specs.
///
/// Each package of 4 MiB or more installed gets its own layer (at most 40, the largest first); the
/// other packages share one layer, which also holds `conda-meta/`. A package's layer depends only on
/// the package and the prefix, so images with the same prefix share it.
public enum EnvironmentLayers {
    static let ownLayerThreshold: Int64 = 4 << 20
    static let maxOwnLayers = 40

    /// The layer specs for `result`, big packages moved into trees of their own under `work`.
    public static func specs(for result: EnvironmentStage.Result, work: URL) throws -> [LayerSpec] {
        var owners = condaOwners(result.root, records: result.records)
        let root = result.root.path.count + 1
        for wheel in result.wheels {
            owners.append(Owner(name: "pip \(wheel.name) \(wheel.version)", files: wheel.files.map { String($0.dropFirst(root)) }))
        }
        return try split(result.root, prefix: result.prefix, owners: owners, packageCount: result.records.count + result.wheels.count,
                         deferred: result.deferred, work: work)
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
    /// Files in `deferred` (left in their wheels or packs) go to their package's layer as they are.
    static func split(_ root: URL, prefix: String, owners: [Owner], packageCount: Int, deferred: DeferredMembers? = nil,
                      work: URL) throws -> [LayerSpec] {
        let rootPath = root.path
        var sizes: [String: Int64] = [:]
        var owner: [String: String] = [:]
        for package in owners {
            for file in package.files { owner[file] = package.name }
            sizes[package.name] = package.files.reduce(0) { total, file in
                let path = rootPath + "/" + file
                if let size = deferred?.size(of: path) { return total + size }
                var info = stat()
                return total + (lstat(path, &info) == 0 ? Int64(info.st_size) : 0)
            }
        }
        let big = Set(sizes.filter { $0.value >= ownLayerThreshold }.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(maxOwnLayers).map(\.key))
        var files: [String: [String]] = [:]
        for (file, name) in owner where big.contains(name) { files[name, default: []].append(file) }
        var layers: [LayerSpec] = []
        for name in big.sorted() {
            let tree = work.path + "/layer-" + name.replacingOccurrences(of: " ", with: "-")
            // The tree is the layer input's source even when every file of the package stays in its wheel.
            try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
            var made = Set<String>()
            let mine = files[name] ?? []
            // Its files left in their wheels or packs are taken as they are; the layer reads them from there.
            let members = deferred?.take(mine.map { rootPath + "/" + $0 }, under: rootPath) ?? []
            let taken = Set(members.map(\.path))
            for file in mine where !taken.contains(file) {
                let source = rootPath + "/" + file, target = tree + "/" + file
                var info = stat()
                guard lstat(source, &info) == 0 else { continue }
                let parent = (target as NSString).deletingLastPathComponent
                if made.insert(parent).inserted { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
                // A directory entry may hold other packages' files: recreate it, never move it.
                if info.st_mode & S_IFMT == S_IFDIR {
                    try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
                } else if rename(source, target) != 0 {
                    throw PlanError.invalid("cannot move \(source) into its layer: \(String(cString: strerror(errno)))")
                } else {
                    // Directories emptied by the move go too: the package's layer has them, and the shared layer must
                    // not depend on whether the files were ever on disk (a deferred file never was).
                    var directory = (source as NSString).deletingLastPathComponent
                    while directory.count > rootPath.count, rmdir(directory) == 0 { directory = (directory as NSString).deletingLastPathComponent }
                }
            }
            layers.append(LayerSpec(kind: .environment, description: name,
                                    inputs: [LayerInput(source: tree, destination: prefix, members: members)]))
        }
        let rest = prefix == "/" ? "pip packages (\(packageCount - big.count))" : "conda environment \(prefix) (\(packageCount - big.count) packages, conda-meta)"
        layers.append(LayerSpec(kind: .environment, description: rest,
                                inputs: [LayerInput(source: root.path, destination: prefix, members: deferred?.take(under: root.path) ?? [])]))
        return layers
    }
}
