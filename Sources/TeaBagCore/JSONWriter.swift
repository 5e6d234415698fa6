/// Canonical JSON text (RFC 8785 style): object keys sorted by UTF-16 code
/// units, no insignificant whitespace, numbers in ECMAScript's shortest form.
///
/// This is the one serialization TeaBag hashes and hands to reducers, so two
/// equal values always produce the same bytes on every node.
extension JSON {
    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        write(to: &out)
        return out
    }

    public var canonicalString: String { String(decoding: canonicalBytes, as: UTF8.self) }

    /// Appends the canonical text of this value to `out`.
    public func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): n.write(to: &out)
        case .string(let s): JSON.writeString(s, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                element.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            let keys = members.keys.sorted(by: JSON.canonicalKeyOrder)
            for (i, key) in keys.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSON.writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                members[key]!.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// RFC 8785 orders keys by their UTF-16 code units.
    public static func canonicalKeyOrder(_ a: String, _ b: String) -> Bool {
        a.utf16.lexicographicallyPrecedes(b.utf16)
    }

    /// Writes a JSON string literal with the escapes of ECMAScript's JSON.stringify.
    public static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// ECMAScript Number::toString for finite doubles, built on Swift's
/// shortest round-trip digits.
enum JSONNumberFormat {
    static func write(_ value: Double, to out: inout [UInt8]) {
        precondition(value.isFinite, "JSON cannot hold NaN or infinity")
        if value == 0 { out.append(UInt8(ascii: "0")); return }  // -0 too
        if value.rounded(.towardZero) == value, abs(value) < 9_007_199_254_740_992 {
            out.append(contentsOf: String(Int64(value)).utf8)
            return
        }
        var (digits, exponent) = decompose(abs(value))
        if value < 0 { out.append(UInt8(ascii: "-")) }
        // value = 0.d1d2...dk × 10^n  (ECMAScript's k and n)
        let k = digits.count
        let n = exponent
        if k <= n && n <= 21 {
            out.append(contentsOf: digits)
            out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: n - k))
        } else if 0 < n && n <= 21 {
            out.append(contentsOf: digits[0..<n])
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: digits[n...])
        } else if -6 < n && n <= 0 {
            out.append(contentsOf: "0.".utf8)
            out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: -n))
            out.append(contentsOf: digits)
        } else {
            out.append(digits[0])
            if k > 1 {
                out.append(UInt8(ascii: "."))
                out.append(contentsOf: digits[1...])
            }
            out.append(UInt8(ascii: "e"))
            let e = n - 1
            out.append(e < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            out.append(contentsOf: String(abs(e)).utf8)
        }
        digits.removeAll()
    }

    /// The shortest decimal digits of a positive finite double and the
    /// exponent n such that value = 0.digits × 10^n.
    static func decompose(_ value: Double) -> (digits: [UInt8], exponent: Int) {
        // Swift's description is the shortest round-trip form, e.g. "1.25e-07", "123.5", "1e+21".
        let text = Array(value.description.utf8)
        var mantissa: [UInt8] = []
        var pointPosition: Int? = nil
        var exponent = 0
        var i = 0
        while i < text.count {
            let c = text[i]
            if c == UInt8(ascii: ".") {
                pointPosition = mantissa.count
            } else if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                exponent = Int(String(decoding: text[(i + 1)...], as: UTF8.self))!
                break
            } else {
                mantissa.append(c)
            }
            i += 1
        }
        var intDigits = pointPosition ?? mantissa.count
        // Strip leading zeros ("0.001" → "1" with the point moved).
        while mantissa.count > 1, mantissa.first == UInt8(ascii: "0") {
            mantissa.removeFirst()
            intDigits -= 1
        }
        while mantissa.count > 1, mantissa.last == UInt8(ascii: "0") { mantissa.removeLast() }
        return (mantissa, intDigits + exponent)
    }
}
