/// Comparison of text as its UTF-8 bytes.
///
/// Swift's `String` equality is Unicode canonical equivalence ("\u{E4}" ==
/// "a\u{308}") and its order is that of the NFC form. Identifiers — sha,
/// path, type, channel, node, reg_id — are bytes to every other party (the
/// original server, SQLite, another store), so two spellings must stay two
/// identifiers, and sha order must be code-point order (which is UTF-8 byte
/// order) on every node.
public enum Bytewise {
    @inlinable
    public static func equal(_ a: String, _ b: String) -> Bool {
        var a = a
        var b = b
        return a.withUTF8 { x in b.withUTF8 { y in x.count == y.count && x.elementsEqual(y) } }
    }

    /// Code-point order: `a` sorts before `b`.
    @inlinable
    public static func less(_ a: String, _ b: String) -> Bool {
        var a = a
        var b = b
        return a.withUTF8 { x in b.withUTF8 { y in x.lexicographicallyPrecedes(y) } }
    }

    @inlinable
    public static func equal(_ a: String?, _ b: String?) -> Bool {
        switch (a, b) {
        case (nil, nil): true
        case (let x?, let y?): equal(x, y)
        default: false
        }
    }

    public static func hash(_ text: String, into hasher: inout Hasher) {
        var text = text
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// A string that is equal, hashed and ordered by its UTF-8 bytes: a key for
/// sets and dictionaries of identifiers.
public struct ByteKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let text: String
    public init(_ text: String) { self.text = text }
    public static func == (a: ByteKey, b: ByteKey) -> Bool { Bytewise.equal(a.text, b.text) }
    public static func < (a: ByteKey, b: ByteKey) -> Bool { Bytewise.less(a.text, b.text) }
    public func hash(into hasher: inout Hasher) { Bytewise.hash(text, into: &hasher) }
    public var description: String { text }
}
