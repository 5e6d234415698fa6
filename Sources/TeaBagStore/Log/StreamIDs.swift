/// Stream ids that tell histories apart.
///
/// Every held op has an id (its `log` rowid), increasing in acceptance
/// order across the whole store; it is the SSE event id. Each start of the
/// store begins a *run* at `max(last id + 1, (milliseconds since 2024) × 2^10)`
/// and records it in `runs`, after closing the previous run at the last id
/// the database holds. A store restored from an older backup therefore
/// starts above every id its lost history issued (unless that history
/// outran the clock: over 1,024 ops a millisecond, sustained), and an id
/// the lost history gave
/// a client falls in a gap between runs: a resume from it gets
/// `event: resync`, never a silent gap (issue 14 §2).
///
/// Ids stay below 2^53 (JavaScript numbers) until the year 2302.
import Foundation
import Synchronization

struct StreamRun: Sendable, Equatable {
    let start: Int64
    let end: Int64
    /// Ids of the first schema (per-user sequences), see `LegacyMigration`.
    let legacy: Bool
}

/// What a resume from `Last-Event-ID` sends before the live ops.
enum ResumePlan: Equatable, Sendable {
    /// The user's held ops with ids above this, in id order.
    case after(Int64)
    /// `event: resync` first, then the held ops above the id.
    case resync(after: Int64)
}

final class StreamIDs: Sendable {
    static let epochMs: Int64 = 1_704_067_200_000  // 2024-01-01T00:00:00Z
    static let idsPerMs: Int64 = 1 << 10

    let closedRuns: [StreamRun]
    let currentStart: Int64
    /// The newest id issued and committed (the writer sets it after each commit).
    private let newestCommitted: Atomic<Int64>

    init(closedRuns: [StreamRun], currentStart: Int64) {
        self.closedRuns = closedRuns
        self.currentStart = currentStart
        newestCommitted = Atomic(currentStart - 1)
    }

    var newest: Int64 { newestCommitted.load(ordering: .acquiring) }

    func committed(upTo id: Int64) {
        newestCommitted.store(id, ordering: .releasing)
    }

    /// The first id of a run started at `nowMs` after ids up to `lastID`.
    static func runStart(lastID: Int64, nowMs: Int64) -> Int64 {
        max(lastID + 1, max(0, nowMs - epochMs) * idsPerMs)
    }

    /// How to resume after `lastEventID`.
    func plan(after lastEventID: Int64) -> ResumePlan {
        if lastEventID == 0 { return .after(0) }
        let newest = self.newest
        if lastEventID > newest { return .resync(after: lastEventID) }
        if lastEventID >= currentStart { return .after(lastEventID) }
        for run in closedRuns where run.start <= lastEventID && lastEventID <= run.end {
            // An old per-user sequence number: replay the user's whole log.
            return run.legacy ? .after(0) : .after(lastEventID)
        }
        return .resync(after: lastEventID)
    }
}
