import Foundation
import OCI
import Testing

@Suite struct DigestTests {
    @Test func parsesSha256AndSha512() throws {
        let sha256 = try Digest(parsing: "sha256:" + String(repeating: "a", count: 64))
        #expect(sha256.algorithm == .sha256)
        let sha512 = try Digest(parsing: "sha512:" + String(repeating: "0", count: 128))
        #expect(sha512.algorithm == .sha512)
        #expect(sha512.description == "sha512:" + String(repeating: "0", count: 128))
    }

    @Test(arguments: ["sha256", "sha256:abc", "md5:" + String(repeating: "a", count: 32),
                      "sha256:" + String(repeating: "A", count: 64), "sha512:" + String(repeating: "a", count: 64)])
    func rejectsInvalid(_ text: String) {
        #expect(throws: OCIError.self) { try Digest(parsing: text) }
    }

    @Test func hashesKnownVector() {
        #expect(Digest.sha256(of: Data("abc".utf8)).encoded == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func counterMatchesOneShot() {
        var counter = DigestCounter()
        let data = Data((0..<10_000).map { UInt8($0 % 251) })
        data.withUnsafeBytes { bytes in
            counter.update(UnsafeRawBufferPointer(rebasing: bytes[0..<3000]))
            counter.update(UnsafeRawBufferPointer(rebasing: bytes[3000...]))
        }
        #expect(counter.finalize() == Digest.sha256(of: data))
        #expect(counter.count == 10_000)
    }
}

@Suite struct ReferenceTests {
    @Test(arguments: [
        ("busybox", "docker.io/library/busybox"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("user/app", "docker.io/user/app"),
        ("index.docker.io/library/ubuntu:22.04", "docker.io/library/ubuntu:22.04"),
        ("localhost/app", "localhost/app"),
        ("localhost:5000/a/b/c:v1.2-rc_3", "localhost:5000/a/b/c:v1.2-rc_3"),
        ("myacr.azurecr.io/azureml/azureml_0123abcd:latest", "myacr.azurecr.io/azureml/azureml_0123abcd:latest"),
        ("mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04", "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"),
        ("127.0.0.1:5000/x__y/a-b--c", "127.0.0.1:5000/x__y/a-b--c"),
        ("[::1]:5000/app:tag", "[::1]:5000/app:tag"),
    ])
    func normalises(_ input: String, _ expected: String) throws {
        #expect(try Reference(parsing: input).description == expected)
    }

    @Test func parsesDigestAndTag() throws {
        let hex = String(repeating: "b", count: 64)
        let reference = try Reference(parsing: "reg.io:443/ns/app:v1@sha256:\(hex)")
        #expect(reference.registry == "reg.io:443")
        #expect(reference.repository == "ns/app")
        #expect(reference.tag == "v1")
        #expect(reference.digest?.encoded == hex)
    }

    @Test func familiarName() throws {
        #expect(try Reference(parsing: "docker.io/library/busybox:1").familiarName == "busybox")
        #expect(try Reference(parsing: "foo/bar").familiarName == "foo/bar")
        #expect(try Reference(parsing: "localhost:5000/foo").familiarName == "localhost:5000/foo")
    }

    @Test(arguments: ["", "UPPER", "a//b", "app:", ":tag", "app:-bad", "app@sha256:123", "-app", "app-", "a/.b",
                      "reg.io:port/app", "app:" + String(repeating: "t", count: 129), String(repeating: "a", count: 64),
                      "bad_host_/x", "a b"])
    func rejects(_ input: String) {
        #expect(throws: OCIError.self) { try Reference(parsing: input) }
    }

    @Test func uppercaseMessageIsActionable() {
        #expect { try Reference(parsing: "myregistry.io/MyApp") } throws: { error in
            "\(error)".contains("must be lowercase")
        }
    }
}
