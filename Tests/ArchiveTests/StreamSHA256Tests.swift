@testable import Archive
import CSHA
import Crypto
import Foundation
import OCI
import Testing

/// `StreamSHA256` gives swift-crypto's digests on either engine, whatever the pieces the bytes come in, and two
/// states hashed together give what each gives alone.
@Suite struct StreamSHA256Tests {
    static func reference(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).hexString }

    /// Engines to check: swift-crypto always; the SHA extensions where this CPU has them (in a debug build too, where
    /// the hash itself does not choose them).
    static var engines: [Bool] { kiln_sha_ni_available() != 0 ? [false, true] : [false] }

    static func pieces(of bytes: [UInt8], using generator: inout some RandomNumberGenerator) -> [ArraySlice<UInt8>] {
        var pieces: [ArraySlice<UInt8>] = []
        var start = 0
        while start < bytes.count {
            let length = min(bytes.count - start, [1, 7, 55, 56, 63, 64, 65, 128, 1000, 4096].randomElement(using: &generator) ?? 1)
            pieces.append(bytes[start..<(start + length)])
            start += length
        }
        return pieces
    }

    /// Lengths around the padding's edges (55, 56, 64 bytes), empty input, and random lengths in random pieces.
    @Test(arguments: engines) func digestsMatchSwiftCrypto(extensions: Bool) {
        var generator = SystemRandomNumberGenerator()
        let lengths = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 4096, 65_537] + (0..<20).map { _ in Int.random(in: 0..<50_000, using: &generator) }
        for length in lengths {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var whole = StreamSHA256(extensions: extensions)
            bytes.withUnsafeBytes { whole.update($0) }
            var pieced = StreamSHA256(extensions: extensions)
            for piece in Self.pieces(of: bytes, using: &generator) { piece.withUnsafeBytes { pieced.update($0) } }
            #expect(whole.finalize().encoded == Self.reference(bytes), "\(length) bytes")
            #expect(pieced.finalize().encoded == Self.reference(bytes), "\(length) bytes in pieces")
            #expect(whole.count == Int64(length))
        }
    }

    /// A tar's hash and a member's, as a layer feeds them: a 512-byte header into the first alone, then the member's
    /// bytes into both, in pieces; then a partial block into the first, so that the two no longer line up and the
    /// next bytes go into each on its own. Each digest is the one its own bytes give.
    @Test(arguments: engines) func twoStatesTogetherGiveEachItsOwnDigest(extensions: Bool) {
        var generator = SystemRandomNumberGenerator()
        for length in [0, 10, 64, 100, 5_000, 70_001] {
            let header = (0..<512).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let member = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let odd = (0..<13).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var tar = StreamSHA256(extensions: extensions)
            var record = StreamSHA256(extensions: extensions)
            header.withUnsafeBytes { tar.update($0) }
            for piece in Self.pieces(of: member, using: &generator) { piece.withUnsafeBytes { tar.update($0, alongside: &record) } }
            #expect(record.finalize().encoded == Self.reference(member), "member of \(length) bytes")
            odd.withUnsafeBytes { tar.update($0) }
            member.withUnsafeBytes { tar.update($0, alongside: &record) }
            #expect(tar.finalize().encoded == Self.reference(header + member + odd + member), "tar after \(length) bytes")
            #expect(record.finalize().encoded == Self.reference(member + member), "member twice")
        }
    }
}
