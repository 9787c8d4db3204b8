import OCI
import Crypto

/// MD5 of a stream: conda records and `@EXPLICIT` lines still identify packages by it.
struct MD5Counter {
    private var hasher = Insecure.MD5()

    mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }

    func finalize() -> String { hasher.finalize().hexString }
}
