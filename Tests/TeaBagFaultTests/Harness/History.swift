/// Every operation a scenario invoked and what became of it, as a Jepsen
/// history: acknowledged (the agent answered 200: the op must survive
/// anything), refused (the agent said no for sure: the op must be nowhere),
/// or unknown (the request failed or timed out: the op may or may not be in,
/// but it must end up everywhere or nowhere).
import Synchronization

enum Outcome: String, Sendable, Codable {
    case invoked, acknowledged, refused, unknown
}

/// How an op shows in a value, so that the checker can find it there: a
/// unique string in a `log` or `set`, or a unique power of two in a `counter`
/// (a double fold carries into a bit no op owns).
enum Mark: Sendable, Hashable {
    case token(String)
    case bit(Int)
}

struct PathRef: Sendable, Hashable, Comparable, CustomStringConvertible {
    let type: String
    let path: String
    static func < (a: PathRef, b: PathRef) -> Bool { (a.type, a.path) < (b.type, b.path) }
    var description: String { "\(type) \(path)" }
}

struct OpRecord: Sendable {
    let id: Int
    let agent: Int
    let target: PathRef
    let mark: Mark
    var outcome: Outcome = .invoked
    /// Why it was refused or unknown.
    var detail: String?
}

final class History: Sendable {
    private let records = Mutex<[OpRecord]>([])

    /// Records an op as invoked; its id.
    func invoke(agent: Int, _ target: PathRef, _ mark: Mark) -> Int {
        records.withLock { records in
            records.append(OpRecord(id: records.count, agent: agent, target: target, mark: mark))
            return records.count - 1
        }
    }

    func finish(_ id: Int, _ outcome: Outcome, detail: String? = nil) {
        records.withLock {
            $0[id].outcome = outcome
            $0[id].detail = detail
        }
    }

    var all: [OpRecord] { records.withLock { $0 } }
    var paths: [PathRef] { Set(all.map(\.target)).sorted() }

    func count(_ outcome: Outcome) -> Int { all.filter { $0.outcome == outcome }.count }
    /// The details of ops that ended `outcome`, e.g. the refusals' error names.
    func details(_ outcome: Outcome) -> [String] { all.filter { $0.outcome == outcome }.compactMap(\.detail) }
}
