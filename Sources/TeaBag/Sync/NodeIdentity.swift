import TeaBagCore

/// The node identity shared by every channel of one client, and the guard
/// that keeps its `(node, seq)` pairs from ever being used twice.
///
/// The storage's `next_seq` can go back in time: a database restored from
/// a backup, or the last commits of `synchronous=NORMAL` rolled back by a
/// power cut. Ops numbered again with seqs a store already holds, or covers
/// with a pruned base, would be dropped there as held (docs/sync.md, "A
/// node's seqs never repeat"). So the first seq of each run is raised to a
/// floor taken from the clock (`seqsPerMillisecond` per ms of corrected
/// time), which a restored file cannot take back; and an own op seen at a
/// store with a seq this run has not reached yet raises `nextSeq` past it.
public final class NodeIdentity {
    public var record: NodeRecord
    /// `next_seq` as the storage had it when this run started.
    public let loadedNextSeq: Int64
    /// False for the simulation and tools that number from the record alone.
    private var floorPending: Bool
    /// The first seq this run numbered (nil before its first write).
    public private(set) var runStartSeq: Int64?
    /// Set once a store shows an own op this run's storage did not know:
    /// the files went back in time.
    public private(set) var behind: Behind?

    /// What was found when the agent found itself behind its stores.
    public struct Behind: Sendable, Equatable {
        /// `next_seq` the storage had at start.
        public let loadedNextSeq: Int64
        /// The highest own seq seen at a store.
        public var highestSeenSeq: Int64
    }

    /// Seqs reserved per millisecond of corrected time: the floor outruns
    /// any write rate this process reaches, and `now × 1000` stays below
    /// 2^53 (JSON numbers) until the year 2255.
    public static let seqsPerMillisecond: Int64 = 1_000

    public init(_ record: NodeRecord, seqFloorFromClock: Bool = false) {
        self.record = record
        self.loadedNextSeq = record.nextSeq
        self.floorPending = seqFloorFromClock
    }

    /// The seq of the next own op. The first of a run is raised to the
    /// clock floor; `now` is the corrected time (the table's or the stores'
    /// clock once either answered), so a local clock set back does not lower it.
    func claimSeq(now: Int64) -> Int64 {
        if floorPending {
            floorPending = false
            let floor = max(1, min(now, Int64(1) << 42) * Self.seqsPerMillisecond)
            record.nextSeq = max(record.nextSeq, floor)
        }
        if runStartSeq == nil { runStartSeq = record.nextSeq }
        return record.nextSeq
    }

    /// `seq` is durable in the storage: the next op gets a higher one.
    func used(_ seq: Int64) { record.nextSeq = max(record.nextSeq, seq + 1) }

    /// An op a store holds (or a base's covers): an own seq this run did not
    /// number means the storage went back in time.
    func observe(_ op: Op) {
        if op.node == record.id, let seq = op.seq { observe(seq: seq) }
        if let covered = op.covers?[record.id] { observe(seq: covered) }
    }

    private func observe(seq: Int64) {
        let fromThisRun = runStartSeq.map { seq >= $0 && seq < record.nextSeq } ?? false
        guard seq >= loadedNextSeq, !fromThisRun else { return }
        // Past anything this run numbered: never number it again.
        if seq >= record.nextSeq { record.nextSeq = seq + 1 }
        if behind == nil {
            behind = Behind(loadedNextSeq: loadedNextSeq, highestSeenSeq: seq)
        } else if seq > behind!.highestSeenSeq {
            behind!.highestSeenSeq = seq
        }
    }
}
