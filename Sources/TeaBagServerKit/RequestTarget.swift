/// A request target (`/path?query`) read from the raw head, once: the
/// event-loop routes use it instead of `URLComponents` or Hummingbird's
/// parsed URI, with the same strict decoding as `Request.query`.
public struct RequestTarget: Sendable {
    public let path: Substring
    public let query: Substring?

    public init(_ target: String) {
        if let mark = target.firstIndex(of: "?") {
            path = target[..<mark]
            query = target[target.index(after: mark)...]
        } else {
            path = target[...]
            query = nil
        }
    }

    /// The first `name=` parameter, decoded strictly (see `Request.query`).
    public func value(_ name: String) -> QueryValue {
        guard let query else { return .absent }
        return Self.value(name, in: query)
    }

    /// The first `name=` parameter as it stands in the target, undecoded
    /// (`name` alone gives the empty text); nil when absent.
    public func rawValue(_ name: String) -> Substring? {
        guard let query else { return nil }
        return Self.rawValue(name, in: query)
    }

    /// The rule of every query parameter TeaBag reads: the first `name=`,
    /// percent-decoded strictly, `+` a space (as in forms and the original
    /// server; `%2B` is a plus); `name` alone is the empty text.
    public static func value(_ name: String, in query: Substring) -> QueryValue {
        guard let raw = rawValue(name, in: query) else { return .absent }
        // Most values need no decoding: no escapes, no `+`.
        if !raw.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) { return .value(String(raw)) }
        return PercentDecoding.decode(raw, plusIsSpace: true).map(QueryValue.value) ?? .invalid
    }

    /// Scans the query's bytes once: pairs split on `&` (empty ones skipped),
    /// each on its first `=`.
    static func rawValue(_ name: String, in query: Substring) -> Substring? {
        let bytes = query.utf8
        let wanted = name.utf8
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "&")) ?? bytes.endIndex
            if start < end {
                let pair = bytes[start..<end]
                let equals = pair.firstIndex(of: UInt8(ascii: "="))
                if pair[..<(equals ?? end)].elementsEqual(wanted) {
                    guard let equals else { return "" }
                    return Substring(bytes[bytes.index(after: equals)..<end])
                }
            }
            start = end < bytes.endIndex ? bytes.index(after: end) : end
        }
        return nil
    }
}
