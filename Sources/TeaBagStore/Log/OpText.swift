/// The canonical text of an accepted op and of its stream entry, written
/// from the columns already encoded for the log (the payload's canonical
/// text is made once per op, not once per use).
import TeaBagCore

enum OpText {
    /// `{"op":…,"path":…,"type":…}`, canonical (keys: op, path, type).
    static func entry(_ op: Op, columns: OpRow.Columns, type: String, path: String) -> [UInt8] {
        var text: [UInt8] = []
        text.reserveCapacity(96 + (columns.payload?.count ?? columns.value?.count ?? 0) + path.utf8.count)
        text.append(contentsOf: #"{"op":"#.utf8)
        write(op, columns: columns, to: &text)
        text.append(contentsOf: #","path":"#.utf8)
        JSON.writeString(path, to: &text)
        text.append(contentsOf: #","type":"#.utf8)
        JSON.writeString(type, to: &text)
        text.append(UInt8(ascii: "}"))
        return text
    }

    /// The op's canonical text. A payload op of TeaBag's own shape (no
    /// members beyond date, node, payload, seq, sha) is written member by
    /// member in canonical key order; anything else through `Op.json`.
    static func write(_ op: Op, columns: OpRow.Columns, to text: inout [UInt8]) {
        guard op.extra.isEmpty, let payload = columns.payload else {
            op.json.write(to: &text)
            return
        }
        text.append(contentsOf: #"{"date":"#.utf8)
        JSON.number(Double(op.date)).write(to: &text)
        if let node = op.node, let seq = op.seq {
            text.append(contentsOf: #","node":"#.utf8)
            JSON.writeString(node, to: &text)
            text.append(contentsOf: #","payload":"#.utf8)
            text.append(contentsOf: payload)
            text.append(contentsOf: #","seq":"#.utf8)
            JSON.number(Double(seq)).write(to: &text)
        } else {
            text.append(contentsOf: #","payload":"#.utf8)
            text.append(contentsOf: payload)
        }
        text.append(contentsOf: #","sha":"#.utf8)
        JSON.writeString(op.sha, to: &text)
        text.append(UInt8(ascii: "}"))
    }
}
