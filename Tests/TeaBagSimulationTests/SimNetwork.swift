import TeaBag
import TeaBagCore
import TeaBagTestSupport

/// What travels or fires in the simulation. Messages carry what the
/// receiver needs to tell a stale one (incarnation, epoch) from a live one.
enum SimEvent {
    // Request/answer traffic: independent delays reorder it.
    case arrive(id: Int, client: Int, incarnation: Int, store: Int, request: SyncRequest, copy: Bool)
    case answer(id: Int, client: Int, incarnation: Int, store: Int, storeEpoch: Int, outcome: Outcome)
    case timeout(id: Int, client: Int, incarnation: Int)
    // Streams: in order per connection.
    case streamEntry(client: Int, store: Int, epoch: Int, entry: StreamEntry)
    case streamResync(client: Int, store: Int, epoch: Int)
    case streamConnect(client: Int, store: Int, incarnation: Int)
    case streamBreak(client: Int, store: Int, epoch: Int)
    // The client's timer for `nextRetry`.
    case wake(client: Int, incarnation: Int)
    // Workload and faults.
    case write(client: Int)
    case read(client: Int)
    case flushCache(client: Int)
    case crashClient(Int)
    case restartClient(Int)
    case crashStore(Int)
    case restartStore(Int)
    case heal

    /// Messages in flight keep the system from being quiet.
    var isMessage: Bool {
        switch self {
        case .arrive, .answer, .streamEntry, .streamResync: true
        default: false
        }
    }
}

/// A store's answer to one request.
enum Outcome {
    case oplog([Op])
    case answers([StoreAnswer])
}

/// Events by virtual time; equal times in scheduling order, so nothing
/// depends on anything but the seed. The heap moves small keys; events
/// wait in a side table (their payloads are large to copy).
struct EventQueue {
    private struct Key {
        let time: Int64
        let order: Int
        let slot: Int

        static func < (a: Key, b: Key) -> Bool { a.time != b.time ? a.time < b.time : a.order < b.order }
    }

    private var heap: [Key] = []
    private var slots: [SimEvent?] = []
    private var freeSlots: [Int] = []
    private var counter = 0
    private(set) var messages = 0

    var isEmpty: Bool { heap.isEmpty }

    mutating func push(_ time: Int64, _ event: SimEvent) {
        counter += 1
        if event.isMessage { messages += 1 }
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = event
        } else {
            slot = slots.count
            slots.append(event)
        }
        heap.append(Key(time: time, order: counter, slot: slot))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child] < heap[parent] else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (time: Int64, event: SimEvent)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var first = parent
            if left < heap.count, heap[left] < heap[first] { first = left }
            if right < heap.count, heap[right] < heap[first] { first = right }
            if first == parent { break }
            heap.swapAt(parent, first)
            parent = first
        }
        let event = slots[top.slot]!
        slots[top.slot] = nil
        freeSlots.append(top.slot)
        if event.isMessage { messages -= 1 }
        return (top.time, event)
    }
}

/// How unreliable the network is in one run; everything is off once healed.
struct NetworkFaults {
    var drop: Double
    var duplicate: Double
    /// A message this much more likely to take long overtakes others.
    var slow: Double

    static let none = NetworkFaults(drop: 0, duplicate: 0, slow: 0)

    /// One leg's delay, in ms.
    func delay(_ rng: inout SplitMix64) -> Int64 {
        rng.chance(slow) ? rng.ms(200...2_500) : rng.ms(1...40)
    }
}
