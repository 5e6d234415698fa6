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

    /// The rule of every query parameter TeaBag reads: the first `name=`,
    /// percent-decoded strictly, `+` a space (as in forms and the original
    /// server; `%2B` is a plus); `name` alone is the empty text.
    public static func value(_ name: String, in query: Substring) -> QueryValue {
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts[0] == name else { continue }
            guard parts.count == 2 else { return .value("") }
            return PercentDecoding.decode(parts[1], plusIsSpace: true).map(QueryValue.value) ?? .invalid
        }
        return .absent
    }
}
