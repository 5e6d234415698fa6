/// The local clock's offset to the stores (SPEC §3: the median of what
/// their `Date` headers say). `Date` has one-second resolution, so an
/// offset within ±2 s is noise and is not applied.
struct ClockOffset {
    private var byStore: [String: Int64] = [:]

    /// `serverDate` is the `Date` header: truncated to the second, and
    /// servers cache the string for up to a second, so the true time is on
    /// average 1 s later. `localNow` is the local clock when the answer arrived.
    mutating func observe(store: String, serverDate: Int64, localNow: Int64) {
        byStore[store] = serverDate + 1_000 - localNow
    }

    mutating func forget(store: String) { byStore[store] = nil }

    /// The median offset in ms, 0 when within the noise.
    var correction: Int64 {
        let sorted = byStore.values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        return abs(median) <= 2_000 ? 0 : median
    }

    var perStore: [String: Int64] { byStore }
}
