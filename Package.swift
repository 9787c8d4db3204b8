// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Kiln",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "kiln", targets: ["kiln"]),
        // Kiln as a library: `Kiln.build(plan, to: location, options:)` and the other jobs, plus the
        // AzureML front ends that turn AzureML files into a plan.
        .library(name: "Kiln", targets: ["Kiln", "AzureML", "Plan", "OCI", "Progress"]),
        // The parsers as fuzz targets, for the libFuzzer executables in Fuzz/ (a separate package).
        .library(name: "KilnFuzzing", targets: ["Fuzzing"]),
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
        // C libraries, linked from the system (apt-get install libarchive-dev zlib1g-dev libzstd-dev libisal-dev).
        .systemLibrary(name: "CArchive", path: "Sources/CArchive", pkgConfig: "libarchive",
                       providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // ISA-L, for the gzip trailer's CRC-32 only: 4× zlib's here (carry-less multiply), and a CRC has one answer.
        .systemLibrary(name: "CIsal", path: "Sources/CIsal", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        // SHA-256 blocks on the x86 SHA extensions, one state or two over the same bytes: a header, no library.
        .systemLibrary(name: "CSHA", path: "Sources/CSHA"),

        // OCI image model: digests, descriptors, manifests, indexes, config, platforms, references, canonical JSON.
        .target(name: "OCI", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // Progress of long steps, reported to a listener the caller installs (the CLI draws it).
        .target(name: "Progress"),
        // The build plan and image locations: plain values, no I/O, so a front end stays light.
        .target(name: "Plan", dependencies: ["OCI"]),
        // Deterministic, streaming layer writing and reading: tar, gzip/zstd, hashing.
        .target(name: "Archive", dependencies: ["OCI", "Plan", "Progress", "CArchive", "CZlib", "CZstd", "CIsal", "CSHA",
                                                .product(name: "Crypto", package: "swift-crypto")]),
        // One HTTP layer for registries, channels and indexes: the client factory, retries, the
        // conditional-GET cache, the self-redacting URL, the User-Agent.
        .target(name: "HTTP", dependencies: ["OCI", "Progress", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                             .product(name: "NIOCore", package: "swift-nio"),
                                             .product(name: "NIOSSL", package: "swift-nio-ssl"),
                                             .product(name: "Crypto", package: "swift-crypto")]),
        // Registry client: the distribution API, Basic and Bearer-token auth, pull and push.
        .target(name: "Registry", dependencies: ["OCI", "Archive", "HTTP", "Progress",
                                                 .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                                 .product(name: "NIOCore", package: "swift-nio"),
                                                 .product(name: "NIOHTTP1", package: "swift-nio"),
                                                 .product(name: "NIOSSL", package: "swift-nio-ssl")]),
        // Conda environments: versions, MatchSpec, channels and repodata, the solver, package extraction,
        // linking into a prefix, lock files.
        .target(name: "Conda", dependencies: ["OCI", "Archive", "CZstd", "HTTP", "Progress",
                                              .product(name: "Crypto", package: "swift-crypto"),
                                              .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                              .product(name: "NIOCore", package: "swift-nio"),
                                              .product(name: "Yams", package: "Yams")]),
        // Python packaging without pip: PEP 440/508, requirement files, the simple API, wheel tags, the
        // PubGrub resolver, the PEP 427 installer, the PEP 517 build frontend.
        .target(name: "Pip", dependencies: ["Archive", "CZlib", "HTTP", "OCI", "Plan", "Progress",
                                            .product(name: "Crypto", package: "swift-crypto"),
                                            .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                            .product(name: "NIOCore", package: "swift-nio"),
                                            .product(name: "NIOHTTP1", package: "swift-nio")]),
        // Images as values and where they live: layers (file or remote), the builder, sources and sinks
        // for layouts, docker-archives and registries, flattening and diff.
        .target(name: "Images", dependencies: ["OCI", "Archive", "Registry", "Plan", "HTTP", "Progress"]),
        // Environments realised for an image: conda, then pip, into a prefix; split into layers.
        .target(name: "Environments", dependencies: ["OCI", "Archive", "Conda", "Pip", "Plan", "Progress"]),
        // AzureML front ends: inference config (v1), deployment and environment YAML (v2), Dockerfile steps
        // and models into a BuildPlan; AzureML's paths and names; the base-image catalogue.
        .target(name: "AzureML", dependencies: ["OCI", "Plan", .product(name: "Yams", package: "Yams")]),
        // Images under runc: a local smoke run (unpacked into a bundle, host network, probed over HTTP), and
        // the sandbox sdist builds run in (the image read-only, no network).
        .target(name: "Run", dependencies: ["OCI", "Plan", "Archive", "Images", "HTTP", "Pip",
                                            .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                            .product(name: "NIOCore", package: "swift-nio"),
                                            .product(name: "NIOHTTP1", package: "swift-nio")]),
        // The library's entry points: build, copy, inspect, diff, tags, environments, run.
        .target(name: "Kiln", dependencies: ["OCI", "Plan", "Images", "Environments", "Registry", "Conda", "Pip", "HTTP", "Run", "Progress"]),
        // The command line: flags into plans and options, one library call, printing, exit codes.
        .target(name: "KilnCLI", dependencies: ["Kiln", "AzureML", "Archive", "Registry", "Conda", "Pip", "HTTP", "Progress",
                                                .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "kiln", dependencies: ["KilnCLI"]),
        // Every untrusted-input parser behind one `FuzzTarget.run(_:)`, for libFuzzer and the corpus replay test.
        .target(name: "Fuzzing", dependencies: ["Archive", "AzureML", "Conda", "OCI", "Pip", "Plan", "Registry",
                                                .product(name: "AsyncHTTPClient", package: "async-http-client")]),

        // Test helpers: a real registry, the token server, an in-process HTTP server for redirect tests.
        .target(name: "TestSupport", dependencies: [.product(name: "NIOCore", package: "swift-nio"),
                                                    .product(name: "NIOPosix", package: "swift-nio"),
                                                    .product(name: "NIOHTTP1", package: "swift-nio")],
                path: "Tests/TestSupport"),
        // One test target per module; CLITests runs the `kiln` binary and the peer tools (the slow set).
        .testTarget(name: "OCITests", dependencies: ["OCI"]),
        .testTarget(name: "PlanTests", dependencies: ["Plan", "OCI"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "OCI", "Progress", "TestSupport", .product(name: "AsyncHTTPClient", package: "async-http-client")]),
        .testTarget(name: "ArchiveTests", dependencies: ["Archive", "OCI", "Plan", "TestSupport"]),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "HTTP", "OCI", "TestSupport", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "CondaTests", dependencies: ["Archive", "Conda", "HTTP", "OCI", "TestSupport",
                                                     .product(name: "AsyncHTTPClient", package: "async-http-client")]),
        .testTarget(name: "PipTests", dependencies: ["Pip", "Archive", "HTTP", "TestSupport"]),
        .testTarget(name: "ImagesTests", dependencies: ["Images", "Archive", "Plan", "OCI", "TestSupport"]),
        .testTarget(name: "EnvironmentsTests", dependencies: ["Environments", "Archive", "Conda", "HTTP", "Plan", "OCI", "TestSupport"]),
        .testTarget(name: "AzureMLTests", dependencies: ["AzureML", "Plan", "TestSupport"]),
        .testTarget(name: "KilnTests", dependencies: ["Kiln", "AzureML", "Archive", "Registry", "HTTP", "Conda", "Pip", "Run", "TestSupport"]),
        .testTarget(name: "RunTests", dependencies: ["Run", "Images", "Archive", "OCI", "Plan", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["Kiln", "AzureML", "OCI", "Archive", "TestSupport"]),
        // Replays fixtures/fuzz/<target>/ (seeds and regressions) through every fuzz target.
        .testTarget(name: "FuzzingTests", dependencies: ["Fuzzing"]),
    ]
)
