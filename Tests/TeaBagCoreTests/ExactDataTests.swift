/// Data returned exactly as given (issue 14 item 6): integers past 2^53 keep
/// their digits, identifiers compare as bytes, a value-op dated 0 is the
/// empty base or nothing.
import Testing
@testable import TeaBagCore

@Suite("Exact data: big integers")
struct BigIntegerTests {
    @Test("an integer no double holds exactly comes back digit for digit", arguments: [
        "9007199254740993", "-9007199254740993", "9223372036854775807", "-9223372036854775807", "18446744073709551617",
        "12345678901234567890123", "100000000000000000000000", "9007199254740993000000000000000000000001",
    ])
    func keepsDigits(text: String) throws {
        let value = try JSON.parse(text)
        #expect(value.canonicalString == text)
        let nested = try JSON.parse(#"{"big":[\#(text),1.5],"n":2}"#)
        #expect(nested.canonicalString == #"{"big":[\#(text),1.5],"n":2}"#)
        #expect(try JSON.parse(nested.canonicalString) == nested)
    }

    @Test("a number a double holds exactly prints as it always did", arguments: [
        ("9007199254740992", "9007199254740992"), ("-9007199254740992", "-9007199254740992"),
        ("1180591620717411303424", "1.1805916207174113e+21"), ("10000000000000000000000", "1e+22"),
        ("123456789012345680000", "123456789012345680000"), ("1700000000000", "1700000000000"), ("-0", "0"),
        ("9007199254740993.0", "9007199254740992"), ("9.007199254740993e15", "9007199254740992"), ("1e23", "1e+23"),
        ("18446744073709551616", "18446744073709552000"), ("-9223372036854775808", "-9223372036854776000"),
    ])
    func exactOnesUnchanged(text: String, expected: String) throws {
        let parsed = try JSON.parse(text)
        #expect(parsed.canonicalString == expected)
        #expect(parsed == JSON.number(Double(text)!))
        #expect(parsed.canonicalBytes == JSON.number(Double(text)!).canonicalBytes)
    }

    @Test("big integers are numbers: equal by digits, int64 exact, double the nearest")
    func accessors() throws {
        let odd = try JSON.parse("9007199254740993")
        #expect(odd != (try JSON.parse("9007199254740992")))
        #expect(odd == (try JSON.parse("9007199254740993")))
        #expect(odd.kindName == "number")
        #expect(odd.int64Value == 9_007_199_254_740_993)
        #expect(odd.doubleValue == 9_007_199_254_740_992)
        #expect(try JSON.parse("18446744073709551617").int64Value == nil)
        #expect(JSON(integerLiteral: Int.max).canonicalString == "9223372036854775807")
        #expect(JSONNumber(Int64.max).description == "9223372036854775807")
        // -2^63 is a double exactly, so it prints as every exact double does.
        #expect(JSONNumber(Int64.min).description == "-9223372036854776000")
        #expect(JSONNumber(Int64(1) << 62).exactIntegerText == nil)
        let set: Set<JSON> = [odd, try JSON.parse("9007199254740993"), 1]
        #expect(set.count == 2)
        // A number past the double range is still refused.
        #expect(throws: JSONParseError.self) { try JSON.parse(String(repeating: "9", count: 400)) }
    }

    @Test("an op's payload and value keep a big integer through the op and its reducer entry")
    func throughAnOp() throws {
        let op = try Op(jsonBytes: Array(#"{"date":1700000000000,"sha":"s","payload":{"id":9007199254740993}}"#.utf8))
        #expect(op.json.canonicalString == #"{"date":1700000000000,"payload":{"id":9007199254740993},"sha":"s"}"#)
        #expect(String(decoding: op.reducerEntry, as: UTF8.self) == #"{"date":1700000000000,"payload":{"id":9007199254740993},"sha":"s"}"#)
        let base = try Op(jsonBytes: Array(#"{"date":5,"sha":"v","value":-12345678901234567890}"#.utf8))
        #expect(base.json.canonicalString == #"{"date":5,"sha":"v","value":-12345678901234567890}"#)
        // A date past 2^53 (not a real date, but an integer all the same) keeps its digits too.
        let far = try Op(jsonBytes: Array(#"{"date":9007199254740993,"sha":"f","payload":1}"#.utf8))
        #expect(far.date == 9_007_199_254_740_993)
        #expect(far.json.canonicalString == #"{"date":9007199254740993,"payload":1,"sha":"f"}"#)
    }
}

@Suite("Exact data: identifiers as bytes")
struct IdentifierBytesTests {
    static let composed = "\u{E4}v"       // ä as one scalar
    static let decomposed = "a\u{308}v"   // a + combining diaeresis: canonically equivalent, other bytes

    @Test("a sha in another Unicode form is another op: not a noop against the held one")
    func shaForms() {
        #expect(Self.composed == Self.decomposed)  // what Swift's String equality says
        var oplog = Oplog()
        let first = Op(date: 10, sha: Self.composed, body: .payload(1))
        let second = Op(date: 10, sha: Self.decomposed, body: .payload(2))
        #expect(oplog.merge(first) == .added)
        #expect(oplog.merge(second) == .added)
        #expect(oplog.ops.count == 2)
        #expect(oplog.holds(sha: Self.decomposed))
        #expect(!oplog.holds(sha: "\u{E4}w"))
        #expect(first != Op(date: 10, sha: Self.decomposed, body: .payload(1)))
        #expect(oplog.remove(sha: Self.decomposed)?.payload == 2)
        #expect(oplog.ops == [first])
        // Against the base too.
        let base = Op(date: 20, sha: Self.composed, body: .value(5))
        #expect(MergeRules.decide(Op(date: 30, sha: Self.decomposed, body: .payload(1)), base: base, alreadyHeld: false) == .keep)
    }

    @Test("shas sort in code-point order, whatever their normal form")
    func shaOrder() {
        // NFC turns e + U+0301 into U+00E9, which sorts after "f"; as code points "e…" is first.
        let accented = "e\u{301}"
        #expect(accented > "f")  // Swift's order
        #expect(MergeRules.OrderKey(date: 1, sha: accented) < MergeRules.OrderKey(date: 1, sha: "f"))
        #expect(MergeRules.OrderKey(date: 1, sha: Self.decomposed) < MergeRules.OrderKey(date: 1, sha: Self.composed))
        #expect(MergeRules.OrderKey(date: 1, sha: Self.decomposed) != MergeRules.OrderKey(date: 1, sha: Self.composed))
        #expect(Set([MergeRules.OrderKey(date: 1, sha: Self.decomposed), MergeRules.OrderKey(date: 1, sha: Self.composed)]).count == 2)
        // The tie-break of bases: the larger sha by code points wins.
        let f = Op(date: 7, sha: "f", body: .value(1))
        let e = Op(date: 7, sha: accented, body: .value(2))
        #expect(MergeRules.isLarger(f, than: e))
        #expect(!MergeRules.isLarger(e, than: f))
        // Fold order in an oplog follows it.
        var oplog = Oplog()
        oplog.merge(Op(date: 3, sha: "f", body: .payload(1)))
        oplog.merge(Op(date: 3, sha: accented, body: .payload(2)))
        #expect(oplog.ops.map(\.sha) == [accented, "f"])
    }

    @Test("strings and keys in JSON are equal only byte for byte")
    func jsonStrings() {
        #expect(JSON.string(Self.composed) != JSON.string(Self.decomposed))
        #expect(JSON.object([Self.composed: 1]) != JSON.object([Self.decomposed: 1]))
        #expect(JSON.object([Self.composed: 1, "b": "x"]) == JSON.object(["b": "x", Self.composed: 1]))
    }

    @Test("paths split at every slash byte, as POSIX does")
    func pathsAsBytes() {
        // "/" + U+0338 is one Character; as bytes it is a separator and a component.
        #expect(OplogKey.normalizePath("/a/\u{338}/..") == "/a")
        #expect(OplogKey.normalizePath("/a/\u{338}b//c/.") == "/a/\u{338}b/c")
        #expect(OplogKey.normalizePath("/\u{E4}/x/../") == "/\u{E4}")
        #expect(OplogKey.normalizePath("/") == "/")
        #expect(OplogKey.normalizePath("/..") == nil)
    }
}

@Suite("Exact data: value-ops dated 0")
struct ZeroDateValueOpTests {
    @Test("a value-op dated 0 is refused unless it is the empty base", arguments: [
        #"{"date":0,"sha":"s","value":1}"#, #"{"date":0,"sha":"s","value":null}"#,
        #"{"date":0,"sha":"f86af73e2defec331e24eb9675a73a03a4013756","value":1}"#,
        #"{"date":0,"sha":"zzz","value":null,"covers":{"n":1}}"#,
    ])
    func refused(text: String) {
        #expect(throws: OpShapeError.self) { try Op(jsonBytes: Array(text.utf8)) }
    }

    @Test("the empty base itself is still accepted, and merges as a noop")
    func emptyBase() throws {
        let op = try Op(jsonBytes: Array(#"{"date":0,"sha":"f86af73e2defec331e24eb9675a73a03a4013756","value":null}"#.utf8))
        #expect(op == Op.empty)
        var oplog = Oplog()
        #expect(oplog.merge(op) == .noop)
        #expect(try Op(jsonBytes: Array(#"{"date":1,"sha":"s","value":1}"#.utf8)).date == 1)
    }
}
