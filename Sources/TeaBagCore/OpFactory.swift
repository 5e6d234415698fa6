/// Creation of new ops by a node (agent or library), docs/sync.md#oplog-rules "New ops".
public enum OpFactory {
    /// The date of a new op: never behind the local oplog, so that a node's
    /// own ops sort in creation order even if its clock steps back.
    /// - Parameters:
    ///   - correctedNow: the local clock in ms, corrected by the median offset to the stores.
    ///   - newestLocalDate: the newest date in the local oplog of that path (0 when empty).
    public static func date(correctedNow: Int64, newestLocalDate: Int64) -> Int64 {
        max(correctedNow, newestLocalDate + 1, 1)
    }

    /// A payload op with its sha: hex SHA-256 of the canonical JSON
    /// `[date, node, seq, payload]`, so two equal writes stay two ops.
    public static func payloadOp(payload: JSON, node: String, seq: Int64, date: Int64) -> Op {
        let preimage: JSON = .array([.number(Double(date)), .string(node), .number(Double(seq)), payload])
        return Op(date: date, sha: Digest.sha256Hex(preimage.canonicalBytes), body: .payload(payload), node: node, seq: seq)
    }

    /// A covering value-op (a prune): hex SHA-256 of the canonical JSON
    /// `{"covers":…,"date":…,"value":…}`.
    public static func valueOp(value: JSON, covers: [String: Int64], date: Int64) -> Op {
        let coversJSON: JSON = .object(covers.mapValues { .number(Double($0)) })
        let preimage: JSON = .object(["covers": coversJSON, "date": .number(Double(date)), "value": value])
        return Op(date: date, sha: Digest.sha256Hex(preimage.canonicalBytes), body: .value(value), covers: covers)
    }
}
