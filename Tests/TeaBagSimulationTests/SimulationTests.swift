/// The deterministic simulation of SPEC §3: clients running the real
/// `ChannelSync`, in-memory stores and a faulty network over virtual time.
///
/// - `swift test --filter TeaBagSimulationTests` runs 500 seeds.
/// - `TEABAG_SIM_SEED=1234` runs only seed 1234 and prints every event.
/// - `TEABAG_SIM_SEEDS=20000` runs seeds 0..<20000 (the long mode, minutes).
/// A failure names its seed, the broken promise and the last events.
import Foundation
import Testing

@Suite struct SimulationTests {
    /// The seeds are split in chunks that Swift Testing runs in parallel.
    static let chunks = 16

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    @Test(arguments: 0..<chunks)
    func seeds(chunk: Int) {
        if let replay = Self.environment["TEABAG_SIM_SEED"].flatMap(UInt64.init) {
            guard chunk == 0 else { return }
            let failure = Simulation(seed: replay, verbose: true).run()
            #expect(failure == nil, "\(failure ?? "")")
            return
        }
        let total = Self.environment["TEABAG_SIM_SEEDS"].flatMap(Int.init) ?? 500
        for seed in stride(from: chunk, to: total, by: Self.chunks) {
            if let failure = Simulation(seed: UInt64(seed)).run() {
                Issue.record("\(failure)")
                return
            }
        }
    }

    /// The same seed, the same run: nothing but the seed decides.
    @Test func replays() {
        let first = Simulation(seed: 42)
        let second = Simulation(seed: 42)
        _ = first.run()
        _ = second.run()
        #expect(first.steps == second.steps)
        #expect(first.time == second.time)
        #expect(first.nextRequestID == second.nextRequestID)
    }
}
