import Archive
import Foundation
import Progress
import OCI
import Plan

/// Turns a plan's layers and config edits into an `Image` over a base: writes each layer once into
/// `workDirectory` (a content-addressed `blobs/sha256/` tree) and applies the config edits. Base layers
/// are kept as they are, remote ones included.
public struct ImageBuilder: Sendable {
    /// Scratch space for new blobs; put it on the output's filesystem so outputs can rename, not copy.
    public let workDirectory: URL
    /// Finished layers by their inputs' metadata; nil writes every layer.
    public var layerCache: LayerCache?
    /// Where each layer written anew also goes while it is written (a registry push); nil writes files only.
    public var layerUploads: (any LayerUploads)?

    /// An image, and how many of its new layers came from `layerCache`.
    public struct Built: Sendable {
        public var image: Image
        public var reusedLayers: Int
    }

    /// A builder writing new layers under `workDirectory`.
    public init(workDirectory: URL) {
        self.workDirectory = workDirectory
    }

    /// The image `plan` describes on top of `base` (from an `ImageSource`; `Image.scratch` for none).
    public func build(_ plan: BuildPlan, base: Image) throws -> Image {
        try assemble(plan, base: base).image
    }

    /// `build`, also telling how many layers the cache gave.
    public func assemble(_ plan: BuildPlan, base: Image) throws -> Built {
        var reusedLayers = 0
        if let wanted = plan.platform, !base.config.platform.satisfies(wanted), !base.layers.isEmpty {
            throw ImageError.base("\(plan.base) is \(base.config.platform), not the requested \(wanted)")
        }
        let blobs = workDirectory.appendingPathComponent("blobs/sha256")
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        let created = Timestamp.iso8601(plan.sourceDateEpoch)

        var config = base.config
        var layers = base.layers.map(Self.ociLayer)
        var history = config.history ?? []
        // First what each layer holds and whether the cache has it; then the misses, written side by side.
        var slots: [Layer?] = []
        var pending: [PendingLayer] = []
        let specs = plan.orderedLayers
        for (number, collected) in try collect(specs, plan: plan).enumerated() {
            let (spec, entries, key) = (specs[number], collected.entries, collected.key)
            guard !entries.isEmpty else { continue }
            history.append(.init(created: created, createdBy: "kiln build: \(spec.description)"))
            if let key, let cached = layerCache?.layer(for: key) {
                slots.append(cached)
                reusedLayers += 1
                continue
            }
            pending.append(PendingLayer(slot: slots.count, number: number, spec: spec, entries: entries, key: key))
            slots.append(nil)
        }
        for (pendingLayer, layer) in zip(pending, try write(pending, plan: plan, into: blobs)) {
            slots[pendingLayer.slot] = layer
            if let key = pendingLayer.key { layerCache?.store(layer, for: key) }
        }
        layers += slots.compactMap { $0 }

        config.created = created
        config.rootfs = .init(diffIDs: layers.map(\.diffID))
        config.history = history.isEmpty ? nil : history
        config.config = Self.apply(plan.config, to: config.config ?? ContainerConfig())
        return Built(image: try Image(config: config, layers: layers), reusedLayers: reusedLayers)
    }

    /// Each layer's entries and cache key, the layers taken side by side (an environment's six take 20 ms on one core).
    /// The stamps serve the key only, and are dropped here. Errors come in the layers' order.
    func collect(_ specs: [LayerSpec], plan: BuildPlan) throws -> [(entries: [LayerEntry], key: String?)] {
        let results = LayerResults<(entries: [LayerEntry], key: String?)>(count: specs.count)
        DispatchQueue.concurrentPerform(iterations: specs.count) { number in
            let spec = specs[number]
            results.set(number, Result {
                let (entries, stamps) = try EntryCollector.collectStamped(spec.inputs)
                let key = entries.isEmpty ? nil : layerCache.flatMap { _ in
                    LayerCache.key(entries, stamps: stamps, byContent: spec.kind == .environment, compression: plan.compression,
                                   epoch: plan.sourceDateEpoch)
                }
                return (entries, key)
            })
        }
        return try results.all(missing: "collected")
    }

    static func apply(_ edits: ConfigEdits, to base: ContainerConfig) -> ContainerConfig {
        var config = base
        for variable in edits.env {
            let value = edits.baseReferences.contains(variable.key) ? Self.expand(variable.value, from: config.env ?? []) : variable.value
            config.setEnv(variable.key, value)
        }
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
        if var check = edits.healthcheck {
            // Docker's HEALTHCHECK defaults: every 30 s, a 30 s timeout, 3 retries; a server gets a minute to start.
            check.interval = check.interval ?? 30_000_000_000
            check.timeout = check.timeout ?? 30_000_000_000
            check.startPeriod = check.startPeriod ?? 60_000_000_000
            check.retries = check.retries ?? 3
            config.healthcheck = check
        }
        if !edits.labels.isEmpty {
            config.labels = (config.labels ?? [:]).merging(edits.labels) { _, new in new }
        }
        return config
    }
}

/// What each layer gave, filled in on several threads (its entries when collected, the layer when written), and, for
/// writing, which layer to take next.
final class LayerResults<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<Value, Error>?]
    private var order: [Int]
    private var failed = false

    init(count: Int, order: [Int] = []) {
        results = Array(repeating: nil, count: count)
        self.order = order.reversed()
    }

    /// The next layer to write; nil when none is left or one has failed.
    func next() -> Int? {
        lock.withLock { failed ? nil : order.popLast() }
    }

    func set(_ index: Int, _ result: Result<Value, Error>) {
        lock.withLock {
            results[index] = result
            if case .failure = result { failed = true }
        }
    }

    func throwFirstFailure() throws {
        for case let .failure(error)? in lock.withLock({ results }) { throw error }
    }

    /// Every layer's value in order, or the first layer's error; `missing` says what a layer left unset was not.
    func all(missing: String) throws -> [Value] {
        try lock.withLock { results }.map { result in
            guard let result else { throw ImageError.output("a layer was not \(missing)") }
            return try result.get()
        }
    }
}

/// A layer the cache did not have, to be written.
struct PendingLayer: Sendable {
    /// Its place among the plan's new layers.
    var slot: Int
    var number: Int
    var spec: LayerSpec
    var entries: [LayerEntry]
    var key: String?
}

extension ImageBuilder {
    /// Writes `pending` into `blobs`, the layers that stream to an upload one at a time, the others up to one per core
    /// at once, largest first (an environment's layers are mostly inflating and hashing, on one core each). Results
    /// come in order.
    func write(_ pending: [PendingLayer], plan: BuildPlan, into blobs: URL) throws -> [Layer] {
        let streamed = pending.map { Self.streams($0.spec, cacheMissed: $0.key != nil) && layerUploads != nil }
        // Largest first: the biggest layer (scipy's, in an ML environment) no longer starts last and runs alone on one core.
        let bytes = pending.map { $0.entries.reduce(Int64(0)) { $0 + $1.fileSize } }
        let parallel = pending.indices.filter { !streamed[$0] }.sorted { (bytes[$0], $1) > (bytes[$1], $0) }
        let results = LayerResults<Layer>(count: pending.count, order: parallel)
        let reporter = Progress.reporter
        let finished = DispatchGroup()
        // Threads of their own, not the dispatch pool: a writer blocks on its compressor's workers, which use that pool.
        for _ in 0..<min(max(1, ProcessInfo.processInfo.activeProcessorCount), parallel.count) {
            finished.enter()
            Thread.detachNewThread { [self] in
                defer { finished.leave() }
                Progress.$reporter.withValue(reporter) {
                    while let index = results.next() {
                        results.set(index, Result { try writeLayer(pending[index], plan: plan, into: blobs, stream: nil) })
                    }
                }
            }
        }
        finished.wait()
        try results.throwFirstFailure()
        for index in pending.indices where streamed[index] {
            let name = Self.layerName(pending[index], count: plan.orderedLayers.count)
            results.set(index, Result { try writeLayer(pending[index], plan: plan, into: blobs, stream: layerUploads?.open(name)) })
            try results.throwFirstFailure()
        }
        return try results.all(missing: "written")
    }

    static func layerName(_ layer: PendingLayer, count: Int) -> String {
        "layer \(layer.number + 1)/\(count) (\(layer.spec.description))"
    }

    /// Writes one layer into `blobs`, named by its digest.
    func writeLayer(_ layer: PendingLayer, plan: BuildPlan, into blobs: URL, stream: LayerStream?) throws -> Layer {
        let temporary = workDirectory.appendingPathComponent("layer-\(layer.number).tmp").path
        let bytes = layer.entries.reduce(Int64(0)) { $0 + $1.fileSize }
        let progress = Progress.start("write \(Self.layerName(layer, count: plan.orderedLayers.count))", total: bytes)
        defer { progress.fail() }
        let blob = try LayerWriter.write(entries: layer.entries, compression: plan.compression, mtime: plan.sourceDateEpoch,
                                         to: temporary, progress: progress, stream: stream)
        progress.finish()
        let final = blobs.appendingPathComponent(blob.digest.encoded).path
        guard rename(temporary, final) == 0 else {
            throw ImageError.output("cannot move layer into \(blobs.path): \(String(cString: strerror(errno)))")
        }
        return Layer(descriptor: blob.descriptor, diffID: blob.diffID, blob: .file(final), uncompressedSize: blob.uncompressedSize)
    }

    /// `text` with each `${NAME}` replaced by NAME's value in `env` (`KEY=VALUE` entries), or "" when unset.
    static func expand(_ text: String, from env: [String]) -> String {
        var values: [String: String] = [:]
        for entry in env {
            guard let equals = entry.firstIndex(of: "=") else { continue }
            values[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
        }
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${"), let end = rest[start.upperBound...].firstIndex(of: "}") {
            result += rest[..<start.lowerBound]
            result += values[String(rest[start.upperBound..<end])] ?? ""
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }

    /// Whether a layer written anew goes to the upload while it is written. A stream cannot skip a blob the
    /// registry has (its digest is known only at the end), so it is kept for layers that are new for sure:
    /// those whose inputs missed the layer cache. Environment layers are staged afresh by every build and
    /// so always miss it, yet come out the same from the same lock: they go the usual way, where a HEAD
    /// finds them already pushed. With `--no-cache` nothing streams, for the same reason.
    static func streams(_ spec: LayerSpec, cacheMissed: Bool) -> Bool {
        cacheMissed && spec.kind != .environment
    }

    /// A base layer with a Docker media type given its OCI twin (same bytes, same digest), so the
    /// manifest Kiln writes is a consistent OCI manifest.
    static func ociLayer(_ layer: Layer) -> Layer {
        var copy = layer
        switch layer.descriptor.mediaType {
        case MediaType.dockerLayerGzip: copy.descriptor.mediaType = MediaType.ociLayerGzip
        case MediaType.dockerLayer: copy.descriptor.mediaType = MediaType.ociLayer
        case MediaType.dockerForeignLayerGzip: copy.descriptor.mediaType = MediaType.ociLayerNondistributableGzip
        default: break
        }
        return copy
    }
}
