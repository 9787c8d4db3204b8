import Crypto
import Foundation

/// RECORD files: the ones wheels ship (read, to take each member's hash without inflating it) and the ones
/// Kiln writes. Parsed as bytes: a wheel like scipy's lists thousands of members.
extension WheelInstaller {
    /// One line of a wheel's own RECORD: its sha256, when well formed, and its size.
    struct RecordLine {
        var sha256: [UInt8]?
        var size: Int64?
    }

    /// The sha256 lines of a RECORD (CSV: path, `sha256=<urlsafe base64>`, size), by path; lines with other
    /// hashes have no `sha256`.
    static func recordLines(_ data: Data) -> [String: RecordLine] {
        var result: [String: RecordLine] = [:]
        let bytes = [UInt8](data)
        let prefix = Array("sha256=".utf8)
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            var line = bytes[start..<end]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            start = end + 1
            let fields = csvFields(line)
            guard fields.count >= 2, let path = String(validating: fields[0], as: UTF8.self) else { continue }
            let hash = fields[1]
            let digest = hash.starts(with: prefix) ? base64Decode(hash.dropFirst(prefix.count)) : nil
            let size = fields.count > 2 ? String(validating: fields[2], as: UTF8.self).flatMap { Int64($0) } : nil
            result[path] = RecordLine(sha256: digest?.count == 32 ? digest : nil, size: size)
        }
        return result
    }

    /// The fields of one CSV line, with `"` quoting as Python's csv module writes it.
    static func csvFields(_ line: ArraySlice<UInt8>) -> [[UInt8]] {
        var fields: [[UInt8]] = []
        var field: [UInt8] = []
        var quoted = false
        var index = line.startIndex
        while index < line.endIndex {
            let byte = line[index]
            if quoted {
                if byte == UInt8(ascii: "\"") {
                    if index + 1 < line.endIndex, line[index + 1] == UInt8(ascii: "\"") { field.append(byte); index += 1 } else { quoted = false }
                } else {
                    field.append(byte)
                }
            } else if byte == UInt8(ascii: "\"") {
                quoted = true
            } else if byte == UInt8(ascii: ",") {
                fields.append(field)
                field = []
            } else {
                field.append(byte)
            }
            index += 1
        }
        fields.append(field)
        return fields
    }

    /// Base64 in either alphabet (RECORD uses the urlsafe one), padding optional; nil on any other byte.
    static func base64Decode<Bytes: Collection>(_ text: Bytes) -> [UInt8]? where Bytes.Element == UInt8 {
        var output: [UInt8] = []
        output.reserveCapacity(text.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in text {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "-"), UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "_"), UInt8(ascii: "/"): value = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            buffer = buffer << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return output
    }

    /// RECORD's hash form: urlsafe base64 without padding.
    static func recordHash(_ digest: SHA256.Digest) -> String {
        recordHash(Array(digest))
    }

    static func recordHash(_ digest: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var output: [UInt8] = []
        output.reserveCapacity((digest.count * 4 + 2) / 3)
        var index = 0
        while index < digest.count {
            let chunk = digest[index..<min(index + 3, digest.count)]
            var value: UInt32 = 0
            for (offset, byte) in chunk.enumerated() { value |= UInt32(byte) << UInt32(16 - 8 * offset) }
            for position in 0...chunk.count { output.append(alphabet[Int((value >> UInt32(18 - 6 * position)) & 63)]) }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func csv(_ field: String) -> String {
        guard field.utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
