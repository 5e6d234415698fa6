/// Pushes through every agent's local API while a scenario injects its
/// faults: `log` and `set` paths that all agents share (concurrent writers,
/// prunes), and a `counter` path per agent whose payloads are distinct
/// powers of two. Every push is recorded in the history.
import Foundation
import Synchronization
import TeaBagCore
import TeaBagTestSupport

final class Workload: Sendable {
    let history: History
    let agents: [AgentAPI]
    /// Makes every token of this run unique.
    let tag: String
    let pace: Duration
    private let stopping = Atomic<Bool>(false)
    private let tasks = Mutex<[Task<Void, Never>]>([])

    /// Shared paths: few enough that every one sees many writers and prunes.
    static let logPaths = 3
    static let setPaths = 2
    /// Bits per counter path: sums of distinct powers below 2^50 stay exact in a double.
    static let bitsPerCounterPath = 50

    init(history: History, agents: [AgentAPI], tag: String, pace: Duration) {
        self.history = history
        self.agents = agents
        self.tag = tag
        self.pace = pace
    }

    func start() {
        let loops = agents.indices.map { index in
            Task { await self.loop(agent: index) }
        }
        tasks.withLock { $0 += loops }
    }

    /// Ends every loop after its push in flight; returns once all ended.
    func stop() async {
        stopping.store(true, ordering: .releasing)
        for task in tasks.withLock({ $0 }) { await task.value }
    }

    private func loop(agent index: Int) async {
        var random = SplitMix64(seed: UInt64(index + 1) &* 0x9E37_79B9 &+ tag.utf8.reduce(UInt64(0)) { $0 &* 31 &+ UInt64($1) })
        var written = 0
        var counterOps = 0
        while !stopping.load(ordering: .acquiring) {
            let roll = random.next() % 100
            let token = "\(tag)-a\(index)-\(written)"
            written += 1
            let target: PathRef, payload: JSON, mark: Mark
            if roll < 45 {
                target = PathRef(type: "log", path: "/log/\(random.next() % UInt64(Self.logPaths))")
                payload = .string(token)
                mark = .token(token)
            } else if roll < 75 {
                target = PathRef(type: "set", path: "/set/\(random.next() % UInt64(Self.setPaths))")
                payload = ["add": .string(token)]
                mark = .token(token)
            } else {
                let bit = counterOps % Self.bitsPerCounterPath
                // The tag in the path: a second workload of one history (a scenario
                // that writes again after its fault) never reuses a bit.
                target = PathRef(type: "counter", path: "/counter/\(tag)/a\(index)/\(counterOps / Self.bitsPerCounterPath)")
                payload = .number(Double(UInt64(1) << UInt64(bit)))
                mark = .bit(bit)
                counterOps += 1
            }
            let failed = await push(agent: index, target, payload, mark) != .acknowledged
            // An agent that is down answers at once: don't spin on it.
            try? await Task.sleep(for: failed ? .milliseconds(100) : pace)
        }
    }

    /// One push through `agent`, recorded; its outcome.
    @discardableResult
    func push(agent index: Int, _ target: PathRef, _ payload: JSON, _ mark: Mark) async -> Outcome {
        let id = history.invoke(agent: index, target, mark)
        let outcome: Outcome
        var detail: String?
        do {
            let answer = try await agents[index].push(target.type, target.path, payload)
            if answer.status == 200 {
                outcome = .acknowledged
            } else if (400..<500).contains(answer.status) || answer.errorName == "ClientError:Storage" {
                // The agent says for sure that nothing was written.
                outcome = .refused
                detail = answer.errorName ?? "\(answer.status)"
            } else {
                outcome = .unknown
                detail = "\(answer.status) \(answer.errorName ?? answer.text)"
            }
        } catch {
            outcome = .unknown
            detail = "\(error)"
        }
        history.finish(id, outcome, detail: detail)
        return outcome
    }
}
