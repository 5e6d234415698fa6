/// Keys waiting to be compared with one store, each with the time it is
/// due; first in, first due (every key waits the same delay). A key already
/// waiting keeps its place: a path that changes all the time is still
/// compared every `relayDelayMs`, never put off for ever.
struct RelayQueue {
    private var entries: [(due: Int64, key: PathKey)] = []
    private var head = 0
    private var waiting: Set<PathKey> = []

    var isEmpty: Bool { head == entries.count }

    /// When the first key is due (nil: none waits).
    var nextDue: Int64? { isEmpty ? nil : entries[head].due }

    mutating func add(_ key: PathKey, due: Int64) {
        guard waiting.insert(key).inserted else { return }
        entries.append((due, key))
    }

    /// The keys due at `now`, removed.
    mutating func takeDue(now: Int64) -> [PathKey] {
        var due: [PathKey] = []
        while head < entries.count, entries[head].due <= now {
            due.append(entries[head].key)
            waiting.remove(entries[head].key)
            head += 1
        }
        // Dropped in one go once the taken part is the larger one: amortized O(1).
        if head > 0, head * 2 >= entries.count {
            entries.removeFirst(head)
            head = 0
        }
        return due
    }

}
