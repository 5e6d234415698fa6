/// The local clock's offset to the stores (docs/sync.md#oplog-rules: the median of what
/// their `Date` headers say). `Date` has one-second resolution, so an
/// offset within ±2 s is noise and is not applied.
///
/// Until a store has answered, the offset comes from the table's `Date`
/// (read with the mount table, before any write can be made), else from
/// what the last run measured: an op is dated once, by the clock of the
/// moment, and one dated by a clock an hour ahead would be refused by every
/// store as from the future for that hour — holding back, in outbox order,
/// every later op of its node, and dating every later op of its path after
/// it (found by the fault suite's clock-skew scenario).
struct ClockOffset {
    private var byStore: [String: Int64] = [:]
    /// The table's offset, or the last run's: used while no store has answered.
    private(set) var fallback: Int64?

    /// `serverDate` is the `Date` header: truncated to the second, and
    /// servers cache the string for up to a second, so the true time is on
    /// average 1 s later. `localNow` is the local clock when the answer arrived.
    mutating func observe(store: String, serverDate: Int64, localNow: Int64) {
        byStore[store] = serverDate + 1_000 - localNow
    }

    /// The table's `Date`, read the same way.
    mutating func observeTable(serverDate: Int64, localNow: Int64) {
        fallback = serverDate + 1_000 - localNow
    }

    /// What the last run measured, unless this run has measured something already.
    mutating func remember(_ offset: Int64) {
        if fallback == nil { fallback = offset }
    }

    mutating func forget(store: String) { byStore[store] = nil }

    /// The median offset in ms, 0 when within the noise.
    var correction: Int64 {
        let sorted = byStore.values.sorted()
        let median: Int64
        if sorted.isEmpty {
            median = fallback ?? 0
        } else {
            median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        return abs(median) <= 2_000 ? 0 : median
    }

    var perStore: [String: Int64] { byStore }
}
