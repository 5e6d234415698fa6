/// An agent whose database goes back in time (issue 14 item 1): a laptop
/// restored from its backup, or a power cut that rolls back the last
/// commits of `durability: normal`. Its stores hold, and with a small
/// `prune.min_ops` cover with pruned bases, `(node, seq)` pairs the restored
/// file has not used yet: writes numbered with them again would be dropped
/// everywhere as already held. Before the fault the workload stops and the
/// agent's outbox drains, so every write acknowledged before it is at a
/// store (a power cut may lose what is not, under `normal`); the workload
/// then writes through the restored agent again.
import Foundation
import Testing
import TeaBagTestSupport

extension FaultScenarios {
    @Test func anAgentRestoredFromAnOlderBackupNeverReusesASeq() async throws {
        try await Scenario.run("agent-restored-from-backup",
                               "agent 0's database replaced by a backup 2 s older, under load with prune.min_ops 2") { run in
            try await withCluster(ClusterOptions(pruneMinOps: 2)) { cluster in
                let history = History()
                let workload = cluster.startWorkload(history: history, tag: "r\(run)")
                try await pause(1_500)
                // The backup: a copy taken while the agent is stopped cleanly.
                await cluster.agents[0].stop()
                let backup = try AgentFiles.copy(cluster.agents[0].data)
                let before = AgentFiles.acknowledged(history, agent: 0)
                try await cluster.agents[0].start()
                try await AgentFiles.writesPast(history, agent: 0, before)
                return try await AgentFiles.rollBack(cluster, history, workload, to: backup, run: run,
                                                     note: "agent 0 restored from a backup taken 2 s before")
            }
        }
    }

    @Test func anAgentWhosePowerIsCutNeverReusesASeq() async throws {
        try await Scenario.run("agent-power-cut",
                               "agent 0 SIGKILLed and its database put back as a crash-consistent copy taken 2 s before, prune.min_ops 2") { run in
            try await withCluster(ClusterOptions(pruneMinOps: 2)) { cluster in
                let history = History()
                let workload = cluster.startWorkload(history: history, tag: "r\(run)")
                try await pause(1_500)
                // What the disk held at one instant: the process frozen
                // while agent.sqlite and its WAL are copied.
                let agent = cluster.agents[0]
                guard let pid = agent.pid else { throw TestFailure("agent 0 is not running") }
                kill(pid, SIGSTOP)
                let copy = Result(catching: { try AgentFiles.copy(agent.data) })
                let before = AgentFiles.acknowledged(history, agent: 0)
                kill(pid, SIGCONT)
                let snapshot = try copy.get()
                try await AgentFiles.writesPast(history, agent: 0, before)
                return try await AgentFiles.rollBack(cluster, history, workload, to: snapshot, run: run,
                                                     note: "agent 0's last 2 s of commits rolled back")
            }
        }
    }
}

/// agent.sqlite and its WAL, copied and put back.
enum AgentFiles {
    static let suffixes = ["", "-wal"]

    static func copy(_ data: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for suffix in suffixes {
            if let bytes = try? Data(contentsOf: URL(fileURLWithPath: data + "/agent.sqlite" + suffix)) { files[suffix] = bytes }
        }
        guard files[""] != nil else { throw TestFailure("no agent.sqlite in \(data)") }
        return files
    }

    static func acknowledged(_ history: History, agent: Int) -> Int {
        history.all.filter { $0.agent == agent && $0.outcome == .acknowledged }.count
    }

    /// 2 s, and at least 10 writes acknowledged by `agent` after the copy:
    /// on a busy machine a restarted agent may take that long to write
    /// again, and a copy with nothing after it would test nothing.
    static func writesPast(_ history: History, agent: Int, _ before: Int) async throws {
        try await pause(2_000)
        let wrote = try await eventually(30) { acknowledged(history, agent: agent) >= before + 10 }
        #expect(wrote, "agent \(agent) acknowledged writes after the copy")
    }

    /// Drains agent 0 (every acknowledged write at a store), kills it, puts
    /// `files` back, restarts it and writes through it again; the run's figures.
    static func rollBack(_ cluster: FaultCluster, _ history: History, _ workload: Workload, to files: [String: Data],
                         run: Int, note: String) async throws -> RunResult {
        await workload.stop()
        let api = cluster.agentAPI(0)
        let drained = try await eventually(30) { ((try? await api.outboxTotal()) ?? -1) == 0 }
        #expect(drained, "agent 0's outbox drains before the fault")
        let agent = cluster.agents[0]
        agent.kill9()
        let database = agent.data + "/agent.sqlite"
        for suffix in suffixes + ["-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) }
        for (suffix, bytes) in files { try bytes.write(to: URL(fileURLWithPath: database + suffix)) }
        try await agent.start()
        try await cluster.waitUntilAgentsConnected()
        let again = cluster.startWorkload(history: history, tag: "r\(run)b")
        try await pause(3_000)
        // The stores hold writes the restored file does not know: the agent says so.
        let reported = try await eventually(20) { (try? await api.status())?["behind_stores"] == true }
        #expect(reported, "agent 0 reports behind_stores in /v1/status after the rollback")
        return await Scenario.check(cluster, again, history, notes: [note])
    }
}
