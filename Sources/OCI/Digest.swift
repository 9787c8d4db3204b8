import Crypto
import Foundation

/// A content digest, `algorithm:encoded`, as the OCI image spec defines it.
///
/// sha256 and sha512 are the registered algorithms; both parse, and Kiln computes sha256.
public struct Digest: Hashable, Sendable, CustomStringConvertible, Codable, Comparable {
    /// A hash algorithm a digest may use.
    public enum Algorithm: String, Sendable, Codable {
        /// SHA-256 (64 hex characters) or SHA-512 (128 hex characters).
        case sha256, sha512

        var hexLength: Int { self == .sha256 ? 64 : 128 }
    }

    /// The hash algorithm.
    public let algorithm: Algorithm
    /// Lower-case hex.
    public let encoded: String

    /// `sha256:` and the first 12 hex characters, enough to tell blobs apart in progress lines.
    public var shortDescription: String { "\(algorithm.rawValue):\(encoded.prefix(12))" }

    /// A digest from its parts, checking the hex's length and case.
    public init(algorithm: Algorithm, encoded: String) throws {
        guard encoded.utf8.count == algorithm.hexLength,
              encoded.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else {
            throw OCIError.invalidDigest("\(algorithm.rawValue):\(encoded)",
                                         reason: "expected \(algorithm.hexLength) lower-case hex characters")
        }
        self.algorithm = algorithm
        self.encoded = encoded
    }

    /// Parses `sha256:<64 hex>` or `sha512:<128 hex>`.
    public init(parsing text: String) throws {
        guard let colon = text.firstIndex(of: ":") else {
            throw OCIError.invalidDigest(text, reason: "missing ':' between algorithm and hex")
        }
        let name = String(text[..<colon])
        guard let algorithm = Algorithm(rawValue: name) else {
            throw OCIError.invalidDigest(text, reason: "unsupported algorithm '\(name)' (sha256 or sha512)")
        }
        try self.init(algorithm: algorithm, encoded: String(text[text.index(after: colon)...]))
    }

    /// The digest as `algorithm:encoded`.
    public var description: String { "\(algorithm.rawValue):\(encoded)" }

    /// Orders digests by their text form.
    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }

    /// The SHA-256 digest of some bytes.
    public static func sha256<D: DataProtocol>(of data: D) -> Digest {
        Digest(trusted: SHA256.hash(data: data))
    }

    /// Wraps a finished hash; the hex is produced here, so it is always valid.
    public init(trusted hash: SHA256.Digest) {
        self.algorithm = .sha256
        self.encoded = hash.hexString
    }

    /// A SHA-256 digest from the 32 bytes a hash gave.
    public init(trustedSHA256 bytes: [UInt8]) {
        self.algorithm = .sha256
        self.encoded = bytes.hexString
    }

    /// Decodes a digest from its `algorithm:encoded` string, validating it.
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(parsing: text)
    }

    /// Encodes the digest as its `algorithm:encoded` string.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hex of the bytes.
    public var hexString: String {
        // The digits are computed, not looked up in an array made on every call: a wheel's members each need one.
        func digit(_ value: UInt8) -> UInt8 { value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10 }
        var out = [UInt8]()
        out.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            out.append(digit(byte >> 4))
            out.append(digit(byte & 0x0f))
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Incremental SHA-256 that also counts bytes: the digest and size of a stream in one pass.
public struct DigestCounter {
    private var hasher = SHA256()
    /// The number of bytes hashed so far.
    public private(set) var count: Int64 = 0

    /// A counter that has seen no bytes.
    public init() {}

    /// Hashes `bytes` and adds their length to `count`.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
        count += Int64(bytes.count)
    }

    /// The SHA-256 digest of all bytes given so far.
    public func finalize() -> Digest { Digest(trusted: hasher.finalize()) }
}
