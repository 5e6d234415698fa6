import TeaBagCore

/// The simulated type: its value is the list of the shas of the payload ops
/// folded, in order, so a value shows exactly which ops it holds — an op
/// folded twice shows twice, a lost one is missing.
enum ShaLog {
    static let type = "log"

    private static func step(_ state: JSON, _ op: Op) -> JSON {
        .array((state.arrayValue ?? []) + [.string(op.sha)])
    }

    /// What every store runs: payloads marked `{"bad": true}` are refused for good.
    static let strict: any Reducer = ClosureReducer(type: type, validate: { payload in
        if payload["bad"] == .bool(true) { throw ReducerRefusal("payload marked bad") }
    }, step: step)

    /// What the clients run: an older version without that check, so a bad
    /// write is acknowledged locally and only a store refuses it (the path
    /// to `writeFailed`).
    static let lenient: any Reducer = ClosureReducer(type: type, step: step)

    static func shas(_ value: JSON) -> [String] {
        (value.arrayValue ?? []).map { $0.stringValue ?? "?" }
    }
}

extension String {
    /// Enough of a sha to tell ops apart in a trace.
    var short: String { String(prefix(6)) }
}
