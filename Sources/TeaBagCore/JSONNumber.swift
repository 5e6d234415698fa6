/// A JSON number: an IEEE double, as in JavaScript (the original client) and
/// RFC 8785 — or, for an integer that no double holds exactly, its digits.
///
/// Every date and sequence number TeaBag uses fits in a double exactly
/// (< 2^53), and so does every number of ordinary data. An integer past
/// that (`9007199254740993`, a 64-bit id, a bank's cents) would come back
/// rounded if it were kept as a double; it keeps its text instead, so a
/// payload or value returns digit for digit. A number a double holds
/// exactly is always kept as the double, so its canonical text (and every
/// hash over it) is what it always was.
public struct JSONNumber: Sendable {
    enum Storage: Sendable {
        case double(Double)
        /// An integer no double holds exactly, as canonical digits
        /// (`-?[1-9][0-9]*`, at least 16 of them).
        case integer(String)
    }

    let storage: Storage

    /// A number from a double, which must be finite (JSON has no NaN or infinity).
    public init(_ value: Double) {
        storage = .double(value)
    }

    /// An integer, kept exactly whatever its size.
    public init(_ value: Int64) {
        let double = Double(value)
        // Int64(exactly:) fails for 2^63, which Double(Int64.max) rounds to.
        if let back = Int64(exactly: double), back == value {
            storage = .double(double)
        } else {
            storage = .integer(String(value))
        }
    }

    /// An integer given as decimal digits (`-?[0-9]+`, no leading zeros but
    /// a lone `0`): kept as a double when one holds it exactly, else as its
    /// digits. Nil when the text is not such an integer or lies beyond the
    /// double range (a JSON number must still be a finite double).
    public init?(integerText text: some StringProtocol) {
        let bytes = Array(text.utf8)
        let negative = bytes.first == UInt8(ascii: "-")
        let digits = negative ? bytes.dropFirst() : bytes[...]
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              digits.count == 1 || digits.first != UInt8(ascii: "0"),
              let double = Double(String(decoding: bytes, as: UTF8.self)), double.isFinite else { return nil }
        // The double serves when it prints as this text anyway, or holds the
        // integer exactly (then it prints as it always did); only an integer
        // it would change keeps its digits. So two numbers are equal exactly
        // when their canonical texts are.
        if digits.count < 16 || ExactInteger.digits(of: double) == Array(digits) {
            storage = .double(double)
            return
        }
        var canonical: [UInt8] = []
        JSONNumberFormat.write(double, to: &canonical)
        storage = canonical == bytes ? .double(double) : .integer(String(decoding: bytes, as: UTF8.self))
    }

    /// The nearest double (the number itself unless it is an integer kept as text).
    public var doubleValue: Double {
        switch storage {
        case .double(let d): d
        case .integer(let text): Double(text)!
        }
    }

    /// The number as an integer, when it is one exactly and fits in Int64.
    public var int64Value: Int64? {
        switch storage {
        case .double(let d):
            guard d.rounded(.towardZero) == d, d >= -9_223_372_036_854_775_808.0, d < 9_223_372_036_854_775_808.0 else { return nil }
            return Int64(d)
        case .integer(let text):
            return Int64(text)
        }
    }

    /// The digits of an integer no double holds exactly; nil for every other number.
    public var exactIntegerText: String? {
        if case .integer(let text) = storage { return text }
        return nil
    }

    /// Appends the canonical text: ECMAScript's shortest form for a double,
    /// the digits for an integer kept as text.
    public func write(to out: inout [UInt8]) {
        switch storage {
        case .double(let d): JSONNumberFormat.write(d, to: &out)
        case .integer(let text): out.append(contentsOf: text.utf8)
        }
    }
}

extension JSONNumber: Hashable {
    /// Equal when the canonical texts are equal: doubles by value (so 0 and
    /// -0 are one number, as in their text), integers kept as text by digits.
    public static func == (a: JSONNumber, b: JSONNumber) -> Bool {
        switch (a.storage, b.storage) {
        case (.double(let x), .double(let y)): x == y
        case (.integer(let x), .integer(let y)): x == y
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch storage {
        case .double(let d): hasher.combine(d)
        case .integer(let text): hasher.combine(text)
        }
    }
}

extension JSONNumber: CustomStringConvertible {
    public var description: String {
        var out: [UInt8] = []
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

/// Matches `case .number(1.5)` against a number, as when the case held a Double.
public func ~= (pattern: Double, value: JSONNumber) -> Bool {
    JSONNumber(pattern) == value
}

extension JSON {
    /// A number from a double; what `.number(_:)` built when the case held one.
    public static func number(_ value: Double) -> JSON { .number(JSONNumber(value)) }
}

/// The exact decimal digits of an integral double (no sign), for telling
/// whether a long integer's text is one a double holds exactly.
enum ExactInteger {
    static func digits(of value: Double) -> [UInt8] {
        let magnitude = abs(value)
        if magnitude < 18_446_744_073_709_551_616.0 { return Array(String(UInt64(magnitude)).utf8) }
        // magnitude = significand × 2^shift, the significand a 53-bit integer.
        let shift = Int(magnitude.exponent) - Double.significandBitCount
        var decimal = Array(String(UInt64(magnitude.significandBitPattern | (1 << UInt64(Double.significandBitCount)))).utf8)
            .reversed().map { $0 - UInt8(ascii: "0") }
        for _ in 0..<shift {
            var carry: UInt8 = 0
            for index in decimal.indices {
                let doubled = decimal[index] * 2 + carry
                decimal[index] = doubled % 10
                carry = doubled / 10
            }
            if carry > 0 { decimal.append(carry) }
        }
        return decimal.reversed().map { $0 + UInt8(ascii: "0") }
    }
}
