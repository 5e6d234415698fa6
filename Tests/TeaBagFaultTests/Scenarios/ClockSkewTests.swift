/// Client clocks an hour off: agent 0's clock runs an hour ahead and agent
/// 1's an hour behind (the test-only `--clock-offset-ms`). Each must date
/// its ops near true time, by its offset to the stores (docs/sync.md#oplog-rules), so that no
/// store refuses them as from the future and no op sorts an hour away.
import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

extension FaultScenarios {
    @Test func agentClocksAnHourOffStillDateTheirOpsNearTrueTime() async throws {
        try await Scenario.run("clock-skew", "agent clocks +1 h and -1 h (the third one right)") { run in
            try await withCluster(ClusterOptions(agentClockOffsets: [0: 3_600_000, 1: -3_600_000])) { cluster in
                let started = nowMs()
                let history = History()
                let workload = cluster.startWorkload(history: history, tag: "r\(run)")
                try await pause(5_000)
                let result = await Scenario.check(cluster, workload, history)
                // Each skewed agent measured how far off it is.
                for (index, skew) in [(0, Int64(3_600_000)), (1, -3_600_000)] {
                    let offsets = try await cluster.agentAPI(index).stores().compactMap(\.clockOffsetMs)
                    #expect(!offsets.isEmpty && offsets.allSatisfy { abs($0 + skew) < 10_000 },
                            "agent \(index) (clock \(skew) ms off) measured offsets \(offsets)")
                }
                // And every op on the stores is dated within the store's
                // max skew (10 min) of the real time it was written.
                let finished = nowMs()
                var outside: [String] = []
                for target in history.paths where target.type == "log" {
                    for op in try await cluster.storeClient(0).ops(target.type, target.path) {
                        guard let date = op["date"]?.int64Value, date != 0 else { continue }
                        if date < started - 600_000 || date > finished + 600_000 {
                            outside.append("\(target) \(op["sha"]?.stringValue ?? "?"): \(date - finished) ms from now")
                        }
                    }
                }
                #expect(outside.isEmpty, "ops dated far from true time: \(outside.prefix(5))")
                var noted = result
                noted.notes.append("every op on the stores dated within 10 min of true time: \(outside.isEmpty ? "yes" : "no (\(outside.count))")")
                return noted
            }
        }
    }
}
