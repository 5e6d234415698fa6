/// SIGKILL of a store under load, again and again: each time it comes back
/// on the same data directory and port, as systemd would restart it.
import Testing

extension FaultScenarios {
    @Test func aStoreKilledUnderLoadAgainAndAgainLosesNothingAcknowledged() async throws {
        try await Scenario.run("store-sigkill", "SIGKILL of a store under load, restarted on its data and port; 3 kills a run") { run in
            try await withCluster { cluster in
                let history = History()
                let workload = cluster.startWorkload(history: history, tag: "r\(run)")
                try await pause(1_000)
                for kill in 0..<3 {
                    let store = cluster.stores[(run + kill) % cluster.stores.count]
                    store.kill9()
                    try await pause(700)
                    try await store.start()
                    try await pause(1_000)
                }
                return await Scenario.check(cluster, workload, history)
            }
        }
    }
}
