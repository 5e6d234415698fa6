/// A store down for a while under load (stopped cleanly), then back.
import Testing

extension FaultScenarios {
    @Test func aStoreDownForAWhileCatchesUpWhenBack() async throws {
        try await Scenario.run("store-down", "a store stopped for 4 s under load, then back") { run in
            try await withCluster { cluster in
                let history = History()
                let workload = cluster.startWorkload(history: history, tag: "r\(run)")
                try await pause(1_000)
                let store = cluster.stores[run % cluster.stores.count]
                await store.stop()
                try await pause(4_000)
                try await store.start()
                try await pause(1_000)
                return await Scenario.check(cluster, workload, history)
            }
        }
    }
}
