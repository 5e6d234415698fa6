/// Percent-decoding that refuses instead of guessing. Hummingbird decodes a
/// query value with U+FFFD for bytes that are not UTF-8 (so `%FF` and
/// `%C0%AF` both become one "\u{FFFD}" — different inputs aliased to one
/// oplog path) and leaves path parameters encoded. Values that key data
/// (a path, a type, a channel, a master) are read through these instead.
import Hummingbird

public enum PercentDecoding {
    /// `text` percent-decoded; nil when a `%` is not followed by two hex
    /// digits or the bytes are not UTF-8.
    /// - Parameter plusIsSpace: true for a query string, where `+` is a space
    ///   (HTML forms, and the original server's `querystring`); in a path a
    ///   `+` is itself.
    public static func decode(_ text: some StringProtocol, plusIsSpace: Bool = false) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(plusIsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// A query parameter as read strictly.
public enum QueryValue: Equatable, Sendable {
    case absent
    /// Present, but not decodable to UTF-8 text.
    case invalid
    case value(String)
}

extension Request {
    /// The first `name=` parameter of the query string, decoded strictly
    /// (`+` is a space, `%2B` a plus).
    public func query(_ name: String) -> QueryValue {
        guard let query = uri.query else { return .absent }
        return RequestTarget.value(name, in: query[...])
    }

    /// The parameter's text, nil when absent; `invalid` when it cannot be decoded.
    public func query(_ name: String, invalid: @autoclosure () -> APIError) throws -> String? {
        switch query(name) {
        case .absent: return nil
        case .invalid: throw invalid()
        case .value(let text): return text
        }
    }
}

extension ServerContext {
    /// A path parameter (`:name`), percent-decoded strictly; nil when absent
    /// or not decodable. Hummingbird hands path parameters over encoded.
    public func decodedParameter(_ name: String) -> String? {
        parameters.get(name).flatMap { PercentDecoding.decode($0) }
    }
}
