import Crypto
import Foundation

/// A content digest, `algorithm:encoded`, as the OCI image spec defines it.
///
/// sha256 and sha512 are the registered algorithms; both parse, and Kiln computes sha256.
public struct Digest: Hashable, Sendable, CustomStringConvertible, Codable, Comparable {
    public enum Algorithm: String, Sendable, Codable {
        case sha256, sha512

        var hexLength: Int { self == .sha256 ? 64 : 128 }
    }

    public let algorithm: Algorithm
    /// Lower-case hex.
    public let encoded: String

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

    public var description: String { "\(algorithm.rawValue):\(encoded)" }

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

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(parsing: text)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hex of the bytes.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Incremental SHA-256 that also counts bytes: the digest and size of a stream in one pass.
public struct DigestCounter {
    private var hasher = SHA256()
    public private(set) var count: Int64 = 0

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
        count += Int64(bytes.count)
    }

    public func finalize() -> Digest { Digest(trusted: hasher.finalize()) }
}
