/// Issue 17: two table instances and two instances of one store over one
/// PostgreSQL, behind balancers, two agents syncing through them; SIGKILL
/// one instance of each under load: the agents carry on through the
/// others, and nothing acknowledged is lost, doubled or diverged (read on
/// every instance, the killed ones once restarted).
import Testing

extension FaultScenarios {
    @Test func oneTableAndOneStoreInstanceKilledOnPostgresLoseNothing() async throws {
        try await Scenario.run("postgres-instance-sigkill",
                               "SIGKILL of one of two table instances and one of two store instances over PostgreSQL, under load") { run in
            let cluster = try await FaultCluster.startOnPostgres()
            do {
                let history = History()
                let workload = cluster.startWorkload(history: history, tag: "r\(run)")
                try await pause(1_500)
                cluster.stores[run % 2].kill9()
                cluster.table.kill9()
                // Three seconds of load through the survivors alone, then the
                // killed ones come back on their ports (as systemd restarts them),
                // so that the checker can read every node.
                try await pause(3_000)
                try await cluster.stores[run % 2].start()
                try await cluster.table.start()
                try await pause(1_000)
                let result = await Scenario.check(cluster, workload, history, notes: ["killed store instance \(run % 2) and table instance 0"])
                await cluster.shutdown()
                return result
            } catch {
                print("fault cluster logs after \(error):\n\(cluster.logs())")
                await cluster.shutdown()
                throw error
            }
        }
    }
}
