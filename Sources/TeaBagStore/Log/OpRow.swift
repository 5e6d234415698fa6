/// How an op is kept in the store's `log` table: one row per held op, its
/// fields in columns rather than its JSON text, so that a counter op costs
/// about 60 bytes on disk instead of 100 (a 40-hex sha is 21 bytes, a date
/// an integer).
///
/// Columns: `date`, `sha` (see `SHAColumn`), `node`/`nseq`, `payload` (the
/// payload's canonical text; NULL for a value-op), `value` (a value-op's
/// canonical value; NULL for a payload op), `covers` and `extra` (canonical
/// objects, NULL when absent).
import TeaBagCore

enum OpRow {
    struct Columns {
        var date: Int64
        var sha: [UInt8]
        var node: String?
        var nseq: Int64?
        var payload: [UInt8]?
        var value: [UInt8]?
        var covers: [UInt8]?
        var extra: [UInt8]?
    }

    static func columns(of op: Op) -> Columns {
        var columns = Columns(date: op.date, sha: SHAColumn.encode(op.sha), node: op.node, nseq: op.seq)
        switch op.body {
        case .payload(let payload): columns.payload = payload.canonicalBytes
        case .value(let value): columns.value = value.canonicalBytes
        }
        if let covers = op.covers { columns.covers = JSON.object(covers.mapValues { .number(Double($0)) }).canonicalBytes }
        if !op.extra.isEmpty { columns.extra = JSON.object(op.extra).canonicalBytes }
        return columns
    }

    /// The op a row holds. The columns were written by `columns(of:)` from an
    /// accepted op, so they parse; a row that does not (a damaged file) throws.
    static func op(_ columns: Columns) throws -> Op {
        func parse(_ bytes: [UInt8]) throws -> JSON { try JSON.parse(bytes, maxDepth: 512) }
        let body: Op.Body
        if let payload = columns.payload {
            body = .payload(try parse(payload))
        } else {
            body = .value(try parse(columns.value ?? Array("null".utf8)))
        }
        var covers: [String: Int64]?
        if let text = columns.covers, case .object(let members) = try parse(text) {
            covers = members.compactMapValues(\.int64Value)
        }
        var extra: [String: JSON] = [:]
        if let text = columns.extra, case .object(let members) = try parse(text) { extra = members }
        return Op(date: columns.date, sha: SHAColumn.decode(columns.sha), body: body, node: columns.node, seq: columns.nseq,
                  covers: covers, extra: extra)
    }

    /// The column list, in the order `bind`/`read` use.
    static let columnList = "date, sha, node, nseq, payload, value, covers, extra"

    /// Binds the columns to parameters `first`…`first + 7`.
    static func bind(_ columns: Columns, to statement: SQLiteStatement, from first: Int32) {
        statement.bind(first, columns.date)
        statement.bind(first + 1, blob: columns.sha)
        statement.bind(first + 2, text: columns.node)
        statement.bind(first + 3, columns.nseq)
        statement.bind(first + 4, text: columns.payload)
        statement.bind(first + 5, text: columns.value)
        statement.bind(first + 6, text: columns.covers)
        statement.bind(first + 7, text: columns.extra)
    }

    /// Reads the columns from result columns `first`…`first + 7`.
    static func read(_ statement: SQLiteStatement, from first: Int32) -> Columns {
        Columns(date: statement.int64(first), sha: statement.bytes(first + 1), node: statement.optionalText(first + 2),
                nseq: statement.optionalInt64(first + 3), payload: statement.optionalBytes(first + 4),
                value: statement.optionalBytes(first + 5), covers: statement.optionalBytes(first + 6),
                extra: statement.optionalBytes(first + 7))
    }
}

/// A sha as stored: a 40-digit lowercase hex sha (what TeaBag and the
/// original client make) as 0x00 and its 20 bytes; any other as 0x01 and its
/// UTF-8 bytes. The prefix keeps the two forms apart.
enum SHAColumn {
    static func encode(_ sha: String) -> [UInt8] {
        let utf8 = sha.utf8
        if utf8.count == 40, let raw = hexBytes(utf8) { return [0] + raw }
        return [1] + Array(utf8)
    }

    static func decode(_ bytes: [UInt8]) -> String {
        guard let kind = bytes.first else { return "" }
        if kind == 0 {
            let digits = Array("0123456789abcdef".utf8)
            var out: [UInt8] = []
            out.reserveCapacity(40)
            for byte in bytes.dropFirst() {
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0xF)])
            }
            return String(decoding: out, as: UTF8.self)
        }
        return String(decoding: bytes.dropFirst(), as: UTF8.self)
    }

    private static func hexBytes(_ utf8: String.UTF8View) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(20)
        var high: UInt8?
        for c in utf8 {
            let nibble: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = c - UInt8(ascii: "a") + 10
            default: return nil  // uppercase hex is kept as text: it must come back as given
            }
            if let h = high {
                out.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return out
    }
}
