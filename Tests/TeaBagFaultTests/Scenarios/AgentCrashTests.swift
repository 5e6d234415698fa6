/// SIGKILL of an agent whose outbox is full: every store is stopped first,
/// the agent keeps acknowledging writes, is killed, restarted, and delivers
/// everything once the stores are back.
import Testing
import TeaBagTestSupport

extension FaultScenarios {
    @Test func anAgentKilledWithAFullOutboxDeliversEverythingOnceRestarted() async throws {
        try await Scenario.run("agent-sigkill-full-outbox",
                               "SIGKILL of an agent with a full outbox (every store stopped first), restarted, then the stores") { run in
            try await withCluster { cluster in
                let history = History()
                let workload = cluster.startWorkload(history: history, tag: "r\(run)")
                try await pause(1_000)
                for store in cluster.stores { await store.stop() }
                try await pause(2_000)
                let agent = cluster.agentAPI(0)
                let waiting = try await agent.outboxTotal()
                #expect(waiting > 0, "agent 0's outbox fills while every store is down")
                cluster.agents[0].kill9()
                try await pause(500)
                try await cluster.agents[0].start()
                // Still offline: what it acknowledged before the kill waits on its disk.
                let kept = try await eventually(20) { ((try? await agent.outboxTotal()) ?? 0) >= waiting }
                #expect(kept, "after the restart agent 0's outbox still holds the \(waiting) op-deliveries it had")
                try await pause(500)
                for store in cluster.stores { try await store.start() }
                try await pause(1_000)
                return await Scenario.check(cluster, workload, history,
                                            notes: ["agent 0 killed holding \(waiting) op-deliveries for its 3 stores"])
            }
        }
    }
}
