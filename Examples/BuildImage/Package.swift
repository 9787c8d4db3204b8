// swift-tools-version: 6.0
// A separate package that uses Kiln as a library, the way a CI tool or a build service would.
import PackageDescription

let package = Package(
    name: "BuildImage",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "Kiln", path: "../..")],
    targets: [
        .target(name: "BuildImage", dependencies: [.product(name: "Kiln", package: "Kiln")]),
        .testTarget(name: "BuildImageTests", dependencies: ["BuildImage"]),
    ]
)
