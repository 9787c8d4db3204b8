import Foundation
import OCI
import Testing

@Suite struct CanonicalJSONTests {
    @Test func sortsKeysAndKeepsSlashes() throws {
        let descriptor = Descriptor(mediaType: MediaType.ociLayerGzip, digest: Digest.sha256(of: Data()), size: 0,
                                    annotations: ["z": "1", "a": "x/y"])
        let text = String(decoding: try CanonicalJSON.encode(descriptor), as: UTF8.self)
        #expect(text == #"{"annotations":{"a":"x/y","z":"1"},"digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":0}"#)
    }

    @Test func configRoundTripsEveryField() throws {
        var config = ImageConfiguration(platform: Platform(os: "linux", architecture: "arm64", variant: "v8"))
        config.created = "2024-01-02T03:04:05Z"
        var inner = ContainerConfig()
        inner.env = ["PATH=/usr/bin"]
        inner.entrypoint = ["/bin/sh", "-c"]
        inner.cmd = ["echo hi"]
        inner.workingDir = "/app"
        inner.exposedPorts = ["5001/tcp": EmptyObject()]
        inner.labels = ["a": "b"]
        inner.user = "1000:1000"
        inner.stopSignal = "SIGTERM"
        var health = Healthcheck(test: ["CMD", "true"])
        health.interval = 30_000_000_000
        health.retries = 3
        inner.healthcheck = health
        config.config = inner
        config.rootfs = .init(diffIDs: [Digest.sha256(of: Data("x".utf8))])
        config.history = [.init(created: config.created, createdBy: "kiln", emptyLayer: true)]
        let data = try CanonicalJSON.encode(config)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""ExposedPorts":{"5001/tcp":{}}"#))
        #expect(text.contains(#""diff_ids":["sha256:"#))
        #expect(text.contains(#""Healthcheck":{"Interval":30000000000,"Retries":3,"Test":["CMD","true"]}"#))
        let back = try CanonicalJSON.decode(ImageConfiguration.self, from: data, what: "config")
        #expect(back == config)
        #expect(try CanonicalJSON.encode(back) == data)
    }

    @Test func malformedJSONNamesTheFile() {
        #expect { try CanonicalJSON.decode(Manifest.self, from: Data("{\"schemaVersion\": 2".utf8), what: "m.json") } throws: { error in
            "\(error)".hasPrefix("malformed m.json")
        }
    }
}

@Suite struct ManifestTests {
    static let dockerList = """
    {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[
    {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":528,"digest":"sha256:\(String(repeating: "1", count: 64))","platform":{"architecture":"amd64","os":"linux"}},
    {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":528,"digest":"sha256:\(String(repeating: "2", count: 64))","platform":{"architecture":"arm","os":"linux","variant":"v7"}},
    {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":528,"digest":"sha256:\(String(repeating: "3", count: 64))","platform":{"architecture":"arm64","os":"linux"}}]}
    """

    @Test func selectsPlatformFromDockerList() throws {
        let index = try Index.decode(Data(Self.dockerList.utf8), what: "list")
        #expect(try index.manifest(for: Platform(os: "linux", architecture: "amd64")).digest.encoded.hasPrefix("1111"))
        #expect(try index.manifest(for: Platform(os: "linux", architecture: "arm", variant: "v7")).digest.encoded.hasPrefix("2222"))
        // arm64 with no variant in the list is v8 by default.
        #expect(try index.manifest(for: Platform(os: "linux", architecture: "arm64", variant: "v8")).digest.encoded.hasPrefix("3333"))
        #expect(throws: OCIError.self) { try index.manifest(for: Platform(os: "linux", architecture: "s390x")) }
        #expect(throws: OCIError.self) { try index.manifest(for: Platform(os: "linux", architecture: "arm", variant: "v6")) }
    }

    @Test func decodesDockerSchema2Manifest() throws {
        let text = """
        {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
         "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"sha256:\(String(repeating: "c", count: 64))"},
         "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32654,"digest":"sha256:\(String(repeating: "d", count: 64))"}]}
        """
        let manifest = try Manifest.decode(Data(text.utf8), what: "m")
        #expect(manifest.layers.count == 1)
        #expect(MediaType.layerCompression(manifest.layers[0].mediaType) == .gzip)
    }

    @Test func rejectsSchema1() {
        #expect(throws: OCIError.self) {
            try Manifest.decode(Data(#"{"schemaVersion":1,"config":{"mediaType":"x","size":1,"digest":"sha256:\#(String(repeating: "c", count: 64))"},"layers":[]}"#.utf8), what: "m")
        }
    }

    @Test func ociIndexWithArtifactTypeAndAnnotations() throws {
        var index = Index(manifests: [Descriptor(mediaType: MediaType.ociManifest, digest: Digest.sha256(of: Data()), size: 2,
                                                 annotations: [Descriptor.refNameAnnotation: "v1"],
                                                 platform: Platform(os: "linux", architecture: "amd64"),
                                                 artifactType: "application/vnd.example")])
        index.annotations = ["org.opencontainers.image.created": "1970-01-01T00:00:00Z"]
        let data = try CanonicalJSON.encode(index)
        #expect(try Index.decode(data, what: "i") == index)
    }

    @Test func platformParsing() throws {
        #expect(try Platform(parsing: "linux/arm64/v8").variant == "v8")
        #expect(throws: OCIError.self) { try Platform(parsing: "linux") }
        #expect(throws: OCIError.self) { try Platform(parsing: "linux//v8") }
    }
}
