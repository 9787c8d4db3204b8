import Foundation
import Kiln

/// What `kiln build` prints: a few lines, or JSON with `--json`.
struct BuildReport: Encodable {
    struct LayerReport: Encodable {
        var digest: String
        var diffID: String
        var size: Int64
        var mediaType: String
    }

    var output: String
    var manifestDigest: String
    var configDigest: String
    var layers: [LayerReport]
    /// Layers taken from the layer cache without reading their inputs.
    var reusedLayers: Int

    init(_ result: BuildResult, output: String) {
        reusedLayers = result.reusedLayers
        self.output = output
        manifestDigest = result.manifestDigest.description
        configDigest = result.configDigest?.description ?? ""
        layers = result.layers.map {
            LayerReport(digest: $0.digest.description, diffID: $0.diffID.description, size: $0.size, mediaType: $0.mediaType)
        }
    }

    func print(json: Bool) throws {
        if json {
            Swift.print(try prettyJSON(self))
        } else {
            Swift.print("built \(output)")
            Swift.print("manifest \(manifestDigest)")
            Swift.print("config   \(configDigest)")
            for layer in layers { Swift.print("layer    \(layer.digest) \(layer.size) bytes (diffID \(layer.diffID))") }
            if reusedLayers > 0 { Swift.print("reused   \(reusedLayers) layer\(reusedLayers == 1 ? "" : "s") from the layer cache (--no-cache rebuilds them)") }
        }
    }
}

/// Sorted keys, unescaped slashes, indented: what every `--json` prints.
func prettyJSON<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
