import Archive
import Foundation
import OCI

/// Turns a `BuildPlan` into an `Image`: opens the base, writes each layer once into `workDirectory`
/// (a content-addressed `blobs/sha256/` tree), and applies the config edits.
public struct ImageBuilder: Sendable {
    /// Scratch space for new blobs; put it on the output's filesystem so outputs can rename, not copy.
    public let workDirectory: URL

    public init(workDirectory: URL) {
        self.workDirectory = workDirectory
    }

    /// `resolvedBase` stands in for a registry base that the caller resolved (its layers may still be remote).
    public func build(_ plan: BuildPlan, resolvedBase: Image? = nil) throws -> Image {
        let base = try resolvedBase.map(BaseResolver.resolved) ?? BaseResolver.resolve(plan.base, platform: plan.platform)
        let blobs = workDirectory.appendingPathComponent("blobs/sha256")
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        let created = Timestamp.iso8601(plan.sourceDateEpoch)

        var config = base.config
        var layers = base.layers
        var history = config.history ?? []
        for (number, spec) in plan.orderedLayers.enumerated() {
            let entries = try EntryCollector.collect(spec.inputs)
            guard !entries.isEmpty else { continue }
            let temporary = workDirectory.appendingPathComponent("layer-\(number).tmp").path
            let blob = try LayerWriter.write(entries: entries, compression: plan.compression,
                                             mtime: plan.sourceDateEpoch, to: temporary)
            let final = blobs.appendingPathComponent(blob.digest.encoded).path
            guard rename(temporary, final) == 0 else {
                throw BuildError.output("cannot move layer into \(blobs.path): \(String(cString: strerror(errno)))")
            }
            layers.append(Layer(descriptor: blob.descriptor, diffID: blob.diffID, blobPath: final,
                                uncompressedSize: blob.uncompressedSize))
            history.append(.init(created: created, createdBy: "kiln build: \(spec.description)"))
        }

        config.created = created
        config.rootfs = .init(diffIDs: layers.map(\.diffID))
        config.history = history.isEmpty ? nil : history
        config.config = Self.apply(plan.config, to: config.config ?? ContainerConfig())
        return try Image(config: config, layers: layers)
    }

    static func apply(_ edits: ConfigEdits, to base: ContainerConfig) -> ContainerConfig {
        var config = base
        for variable in edits.env { config.setEnv(variable.key, variable.value) }
        if let entrypoint = edits.entrypoint {
            config.entrypoint = entrypoint
            // As in Docker, a new entrypoint drops the base's Cmd unless a Cmd is given too.
            if edits.cmd == nil { config.cmd = nil }
        }
        if let cmd = edits.cmd { config.cmd = cmd }
        if let workingDir = edits.workingDir { config.workingDir = workingDir }
        if let user = edits.user { config.user = user }
        if !edits.exposedPorts.isEmpty {
            var ports = config.exposedPorts ?? [:]
            for port in edits.exposedPorts { ports[port.contains("/") ? port : port + "/tcp"] = EmptyObject() }
            config.exposedPorts = ports
        }
        if !edits.labels.isEmpty {
            config.labels = (config.labels ?? [:]).merging(edits.labels) { _, new in new }
        }
        return config
    }
}

enum Timestamp {
    /// RFC 3339 in UTC with whole seconds, the form the image spec shows.
    static func iso8601(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }
}
