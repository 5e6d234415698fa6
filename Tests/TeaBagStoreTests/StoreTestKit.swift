/// Shared bits of the store's integration tests.
import Foundation
import TeaBagCore
import TeaBagTestSupport

/// A store error's message, when the answer is one.
extension HTTPAnswer {
    var errorMessage: String? { json?["error"]?["message"]?.stringValue }
    /// `{"ok":true,"noop":true}` exactly.
    var isNoop: Bool { status == 200 && json == ["ok": true, "noop": true] }
    /// `{"ok":true}` exactly (no noop member).
    var isAccepted: Bool { status == 200 && json == ["ok": true] }
}

/// The empty base of a path never written (docs/sync.md#oplog-rules).
let emptyBase: JSON = ["date": 0, "sha": .string(Op.emptySHA), "value": nil]
