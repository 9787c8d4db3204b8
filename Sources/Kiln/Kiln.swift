/// Kiln as a library: each job a Kiln command does is one call here.
///
/// ```swift
/// var plan = BuildPlan()
/// plan.layers.append(LayerSpec(kind: .model, description: "model", inputs: [LayerInput(source: "model", destination: "/models")]))
/// let result = try await Kiln.build(plan, to: .layout(path: "out/image", tag: "1"))
/// print(result.manifestDigest)
/// ```
///
/// Every call either finishes or leaves nothing behind at its destination, and throws errors that
/// describe the problem in one line without secrets.
public enum Kiln {}
