// swift-tools-version:5.4
// Tools version 5.4 on purpose: from 5.5 SwiftPM links executables with `--defsym main=<module>_main`,
// which collides with libFuzzer's own `main`; at 5.4 the executable's main is libFuzzer's.
import PackageDescription

/// One libFuzzer executable per `FuzzTarget` (keep in step with Sources/Fuzzing/FuzzTarget.swift).
let targets = ["tar", "zip", "repodata", "conda-spec", "pep508", "requirements", "challenge", "reference",
               "oci-json", "inference-config", "yaml", "simple-index", "dockerfile", "pyproject", "sdist"]

let package = Package(
    name: "KilnFuzz",
    platforms: [.macOS("14.0")],
    products: targets.map { .executable(name: "fuzz-\($0)", targets: ["fuzz-\($0)"]) },
    dependencies: [.package(name: "Kiln", path: "..")],
    targets: targets.map {
        .executableTarget(name: "fuzz-\($0)", dependencies: [.product(name: "KilnFuzzing", package: "Kiln")], path: "Sources/fuzz-\($0)")
    }
)
