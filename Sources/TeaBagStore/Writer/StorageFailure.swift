/// Write failures that are the store's condition rather than a bug or the
/// client's fault: a full disk is answered 503 `StoreError:DiskFull` with
/// `Retry-After`, so that agents keep the op and retry (docs/sync.md#oplog-rules: retry
/// later), and the operator reads what to do, instead of a bare 500.
import GRDB
import TeaBagServerKit

enum StorageFailure {
    /// How a failed write transaction is answered.
    static func answer(for error: any Error) -> any Error {
        let full = (error as? DatabaseError)?.resultCode == .SQLITE_FULL || (error as? SQLiteError)?.isDiskFull == true
        guard full else { return error }
        var answer = APIError(.storeDiskFull, "the store's disk is full: nothing of this request was stored; retry later (the store's operator must free space)")
        answer.headers[.retryAfter] = "5"
        return answer
    }
}
