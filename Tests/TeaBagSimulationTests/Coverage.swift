/// How often the faults and rules that matter fired: a run of seeds that
/// never resyncs or prunes concurrently would prove little.
struct Coverage: CustomStringConvertible {
    var prunes = 0
    /// Prunes that lost to another one at some store (concurrent prunes).
    var losingBases = 0
    var writeFailures = 0
    var futureDates = 0
    var lostMessages = 0
    var duplicates = 0
    var timeouts = 0
    var resumes = 0
    var resyncs = 0
    var storeCrashes = 0
    var clientCrashes = 0
    /// Restarts of a client without oplog cache that had something in its outbox.
    var outboxRestarts = 0

    static func + (a: Coverage, b: Coverage) -> Coverage {
        Coverage(prunes: a.prunes + b.prunes, losingBases: a.losingBases + b.losingBases, writeFailures: a.writeFailures + b.writeFailures,
                 futureDates: a.futureDates + b.futureDates, lostMessages: a.lostMessages + b.lostMessages,
                 duplicates: a.duplicates + b.duplicates, timeouts: a.timeouts + b.timeouts, resumes: a.resumes + b.resumes,
                 resyncs: a.resyncs + b.resyncs, storeCrashes: a.storeCrashes + b.storeCrashes,
                 clientCrashes: a.clientCrashes + b.clientCrashes, outboxRestarts: a.outboxRestarts + b.outboxRestarts)
    }

    var counts: [(String, Int)] {
        [("prunes", prunes), ("losing bases", losingBases), ("write failures", writeFailures), ("FutureDate answers", futureDates),
         ("lost messages", lostMessages), ("duplicated requests", duplicates), ("timeouts", timeouts),
         ("stream resumes", resumes), ("stream resyncs", resyncs), ("store crashes", storeCrashes),
         ("client crashes", clientCrashes), ("restarts from the outbox alone", outboxRestarts)]
    }

    var description: String { counts.map { "\($0.0) \($0.1)" }.joined(separator: ", ") }
}
