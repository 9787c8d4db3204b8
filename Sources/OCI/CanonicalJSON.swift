import Foundation

/// Canonical JSON: sorted keys and unescaped slashes, with no whitespace, so that the same value always
/// serialises to the same bytes and so to the same digest.
public enum CanonicalJSON {
    /// Encodes `value` with sorted keys and unescaped slashes, without whitespace.
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    /// Decodes `data`, naming `what` (a file or a blob) in the error.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw OCIError.malformedJSON(what: what, detail: error.shortDescription)
        } catch let error as OCIError {
            throw error
        } catch {
            throw OCIError.malformedJSON(what: what, detail: "\(error)")
        }
    }
}

extension DecodingError {
    /// A one-line description: the coding path and what was wrong there.
    public var shortDescription: String {
        func path(_ context: Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
            return keys.isEmpty ? "top level" : keys.joined(separator: ".")
        }
        switch self {
        case let .dataCorrupted(context):
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return "\(path(context)): \(underlying ?? context.debugDescription)"
        case let .keyNotFound(key, context):
            return "\(path(context)): missing key '\(key.stringValue)'"
        case let .typeMismatch(type, context):
            return "\(path(context)): expected \(type)"
        case let .valueNotFound(type, context):
            return "\(path(context)): expected \(type), found null"
        @unknown default:
            return "\(self)"
        }
    }
}
