/// A partition between the agents and one store: the store is enrolled
/// through a proxy of the suite, which blackholes every connection for a
/// while (accepts, forwards nothing) and heals — once letting the held
/// bytes through, once resetting every connection.
import Testing

extension FaultScenarios {
    @Test func aPartitionBetweenTheAgentsAndOneStoreHealsWithoutLoss() async throws {
        try await Scenario.run("partition", "the agents cut from one store for 3 s, twice (healed by resuming, then by resetting connections)") { run in
            try await withCluster(ClusterOptions(proxiedStore: 2)) { cluster in
                let proxy = try #require(cluster.proxy)
                let history = History()
                let workload = cluster.startWorkload(history: history, tag: "r\(run)")
                try await pause(1_000)
                let store = cluster.storeClient(2)
                let before = try await store.value("log", "/log/0").json?["value"]?.arrayValue?.count ?? 0
                proxy.partition()
                try await pause(3_000)
                let during = try await store.value("log", "/log/0").json?["value"]?.arrayValue?.count ?? 0
                proxy.heal(resetConnections: false)
                try await pause(1_500)
                proxy.partition()
                try await pause(3_000)
                proxy.heal(resetConnections: true)
                try await pause(1_500)
                return await Scenario.check(cluster, workload, history,
                                            notes: ["store 2's /log/0 grew by \(during - before) element(s) during the first 3 s partition"])
            }
        }
    }
}
