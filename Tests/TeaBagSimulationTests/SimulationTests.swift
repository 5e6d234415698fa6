/// The deterministic simulation of docs/sync.md#oplog-rules: clients running the real
/// `ChannelSync`, in-memory stores and a faulty network over virtual time.
///
/// - `swift test --filter TeaBagSimulationTests` runs seeds 0..<500.
/// - `TEABAG_SIM_SEED=1234` runs only seed 1234 and prints every event.
/// - `TEABAG_SIM_SEEDS=20000` runs seeds 0..<20000 (the long mode: about a
///   minute of CPU per thousand seeds in a debug build, spread over the cores).
/// - `TEABAG_SIM_STATS=1` prints each seed's events and run time.
/// A failure names its seed, the broken promise, where everyone stood and
/// the last events.
import Foundation
import TeaBagTestSupport
import Testing

@Suite struct SimulationTests {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    @Test func seeds() async {
        if let replay = Self.environment["TEABAG_SIM_SEED"].flatMap(UInt64.init) {
            let failure = Simulation(seed: replay, verbose: true).run()
            print(failure ?? "seed \(replay): every promise held")
            #expect(failure == nil, "\(failure ?? "")")
            return
        }
        let total = Self.environment["TEABAG_SIM_SEEDS"].flatMap(Int.init) ?? 500
        let stats = Self.environment["TEABAG_SIM_STATS"] != nil
        // CPU-bound and synchronous: the workers run on threads of their own,
        // never on Swift's cooperative pool (two threads on two cores), which
        // the suites running beside this one need to start their servers.
        // One core is left to them.
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount - 1)
        let (failures, coverage) = await withTaskGroup(of: ([String], Coverage).self) { group in
            for worker in 0..<workers {
                group.addTask { await onOwnThread {
                    var coverage = Coverage()
                    var failures: [String] = []
                    for seed in stride(from: worker, to: total, by: workers) {
                        let simulation = Simulation(seed: UInt64(seed))
                        let started = ContinuousClock.now
                        if let failure = simulation.run() {
                            // One full report per worker is enough to read; then just which seeds fail too.
                            failures.append(failures.isEmpty ? failure : String(failure.prefix { $0 != "\n" }))
                            if failures.count == 10 { break }
                            continue
                        }
                        coverage = coverage + simulation.coverage
                        if stats {
                            print("seed \(seed): \(simulation.steps) events, \((simulation.time - Simulation.startTime) / 1000) s virtual, \(ContinuousClock.now - started)")
                        }
                    }
                    return (failures, coverage)
                } }
            }
            var failures: [String] = []
            var coverage = Coverage()
            for await (found, covered) in group {
                failures += found
                coverage = coverage + covered
            }
            return (failures, coverage)
        }
        for failure in failures { Issue.record("\(failure)") }
        // A few seeds may miss some of them; 200 do not.
        guard failures.isEmpty, total >= 200 else { return }
        // What the promises rest on must have happened, or the runs prove little.
        for (what, count) in coverage.counts { #expect(count > 0, "no \(what) in \(total) runs: \(coverage)") }
        if stats { print("coverage: \(coverage)") }
    }

    /// The same seed, the same run: nothing but the seed decides.
    @Test func replays() async {
        let (first, second) = await onOwnThread {
            let runs = (Simulation(seed: 42), Simulation(seed: 42))
            _ = runs.0.run()
            _ = runs.1.run()
            return ([runs.0.steps, Int(runs.0.time), runs.0.nextRequestID], [runs.1.steps, Int(runs.1.time), runs.1.nextRequestID])
        }
        // Steps, virtual time and request ids.
        #expect(first == second)
    }
}
