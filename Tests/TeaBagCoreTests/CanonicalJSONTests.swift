import Crypto
import Testing
@testable import TeaBagCore

@Suite("Canonical JSON")
struct CanonicalJSONTests {
    @Test("numbers print in ECMAScript's shortest form", arguments: [
        (1.0, "1"), (-1.0, "-1"), (1.5, "1.5"), (0.1 + 0.2, "0.30000000000000004"), (1e21, "1e+21"),
        (1e20, "100000000000000000000"), (123456789012345680000.0, "123456789012345680000"), (1e-7, "1e-7"),
        (0.000001, "0.000001"), (-0.0, "0"), (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
        (9007199254740993.0, "9007199254740992"), (1700000000000.0, "1700000000000"), (0.5, "0.5"), (-1.25e-10, "-1.25e-10"),
    ])
    func numbers(value: Double, expected: String) {
        #expect(JSON.number(value).canonicalString == expected)
    }

    @Test("object keys sort by UTF-16 code units, not by scalars")
    func keyOrder() {
        // U+E000 is one UTF-16 unit (0xE000); U+1F600 is a surrogate pair (0xD83D …), which sorts first.
        let value: JSON = ["\u{E000}": 1, "😀": 2, "b": 3, "a": ["z": true, "y": nil]]
        #expect(value.canonicalString == #"{"a":{"y":null,"z":true},"b":3,"😀":2,"\#u{E000}":1}"#)
    }

    @Test("strings escape what JSON.stringify escapes and nothing else")
    func escapes() {
        let value: JSON = .string("q\"b\\n\nt\tc\u{01}é/")
        #expect(value.canonicalString == #""q\"b\\n\nt\tc\u0001é/""#)
    }

    @Test("parse and print round-trip")
    func roundTrip() throws {
        let text = #"{"a":[1,2.5,"x",null,true,false,{}],"b":{"c":"\u00e9\ud83d\ude00"},"d":-0.001}"#
        let value = try JSON.parse(text)
        #expect(value["b"]?["c"] == "é😀")
        #expect(try JSON.parse(value.canonicalString) == value)
        #expect(value.canonicalString == #"{"a":[1,2.5,"x",null,true,false,{}],"b":{"c":"é😀"},"d":-0.001}"#)
    }

    @Test("bad JSON is refused with its reason", arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "nul", "\"abc", "[1] 2", "{\"a\":1,}", "\"\u{01}\"", "\"\\x\"", "\"\\ud800\"", "1e999",
    ])
    func refusals(text: String) {
        #expect(throws: JSONParseError.self) { try JSON.parse(text) }
    }

    @Test("deep nesting is refused by the limit without exhausting the stack")
    func depthLimit() throws {
        for depth in [65, 1_000, 100_000] {
            let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            #expect(throws: JSONParseError.self) { try JSON.parse(text) }
            do { _ = try JSON.parse(text) } catch { #expect(error.reason == .tooDeep) }
        }
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try JSON.parse(ok) }
    }

    @Test("invalid UTF-8 in a string is refused")
    func invalidUTF8() {
        let bytes: [UInt8] = [0x22, 0xC3, 0x28, 0x22]
        do { _ = try JSON.parse(bytes); Issue.record("accepted invalid UTF-8") } catch { #expect(error.reason == .invalidUTF8) }
    }

    @Test("EMPTY_SHA is the original package's hash of the empty base")
    func emptySHA() {
        // common.hash(["0", "null"]) in teabag 0.1.3: HMAC-SHA1 with an empty key.
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Array("0null".utf8), using: SymmetricKey(data: [UInt8]()))
        #expect(Digest.hex(mac) == Op.emptySHA)
        #expect(Oplog().wire.map(\.json) == [["date": 0, "sha": .string(Op.emptySHA), "value": nil]])
    }
}
