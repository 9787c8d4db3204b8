// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Kiln",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "kiln", targets: ["kiln"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // C libraries, linked from the system (apt-get install libarchive-dev zlib1g-dev libzstd-dev).
        .systemLibrary(name: "CArchive", path: "Sources/CArchive", pkgConfig: "libarchive",
                       providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),

        // OCI image model: digests, descriptors, manifests, indexes, config, platforms, references, canonical JSON.
        .target(name: "OCI", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // Deterministic, streaming layer writing and reading: tar, gzip/zstd, hashing.
        .target(name: "Archive", dependencies: ["OCI", "CArchive", "CZlib", "CZstd",
                                                .product(name: "Crypto", package: "swift-crypto")]),
        // Registry client: the distribution API, Basic and Bearer-token auth, pull and push.
        .target(name: "Registry", dependencies: ["OCI", "Archive",
                                                 .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                                 .product(name: "NIOCore", package: "swift-nio"),
                                                 .product(name: "NIOHTTP1", package: "swift-nio"),
                                                 .product(name: "NIOSSL", package: "swift-nio-ssl")]),
        // Conda environments: versions, MatchSpec, channels and repodata, the solver, package extraction,
        // linking into a prefix, lock files.
        .target(name: "Conda", dependencies: ["OCI", "Archive", "CZstd",
                                              .product(name: "Crypto", package: "swift-crypto"),
                                              .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                              .product(name: "NIOCore", package: "swift-nio"),
                                              .product(name: "Yams", package: "Yams")]),
        // Python packaging without pip: PEP 440/508, requirement files, the simple API, wheel tags, the
        // PubGrub resolver, the PEP 427 installer.
        .target(name: "Pip", dependencies: ["CZlib",
                                            .product(name: "Crypto", package: "swift-crypto"),
                                            .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                            .product(name: "NIOCore", package: "swift-nio"),
                                            .product(name: "NIOHTTP1", package: "swift-nio")]),
        // Build planning: the BuildPlan value, the image builder, local outputs, registry sinks.
        .target(name: "Build", dependencies: ["OCI", "Archive", "Registry", "Conda", "Pip"]),
        // AzureML front ends: inference config (v1) into a BuildPlan.
        .target(name: "AzureML", dependencies: ["OCI", "Build"]),
        // The command line: argument parsing, output, exit codes.
        .target(name: "KilnCLI", dependencies: ["OCI", "Archive", "Build", "AzureML", "Registry", "Conda", "Pip",
                                                .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "kiln", dependencies: ["KilnCLI"]),

        // Test helpers: a real registry, the token server, an in-process HTTP server for redirect tests.
        .target(name: "TestSupport", dependencies: [.product(name: "NIOCore", package: "swift-nio"),
                                                    .product(name: "NIOPosix", package: "swift-nio"),
                                                    .product(name: "NIOHTTP1", package: "swift-nio")],
                path: "Tests/TestSupport"),
        .testTarget(name: "OCITests", dependencies: ["OCI"]),
        .testTarget(name: "ArchiveTests", dependencies: ["Archive", "OCI", "TestSupport"]),
        .testTarget(name: "KilnTests", dependencies: ["Build", "AzureML", "OCI", "Archive", "TestSupport"]),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "OCI", "TestSupport"]),
        .testTarget(name: "PipTests", dependencies: ["Pip", "TestSupport"]),
        .testTarget(name: "CondaTests", dependencies: ["Conda", "OCI", "TestSupport",
                                                     .product(name: "AsyncHTTPClient", package: "async-http-client")]),
    ]
)
