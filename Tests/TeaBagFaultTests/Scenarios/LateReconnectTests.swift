/// A store restored from an older backup while every agent is away (a
/// laptop asleep, a network down), which accepts NEW ops before they come
/// back (issue 14 §2): by the time the agents resume their streams, the
/// restored store has issued events of its own past the `Last-Event-ID`
/// each agent holds.
///
/// Why this fails on the main of before the store's rebuild (364c462): a
/// user's stream ids were a per-user sequence, 1, 2, 3…, and a resume got
/// `event: resync` only from an id beyond the newest the store held. The
/// restored store went back to the backup's last number N and numbered its
/// new ops N+1, N+2… again — the numbers the agents had already seen for
/// the ops it lost. Once it had accepted as many new ops as it lost (this
/// scenario pushes more than that), an agent's `Last-Event-ID` was again an
/// id the store "held": no resync, the stream went on after it, and no
/// agent learnt that store 2 had lost the ops it had acknowledged since the
/// backup. None of them sent those ops again: lost > 0 on store 2, never
/// converging (and store 2's new ops numbered at or below an agent's id
/// never reached that agent through store 2). Today ids come in runs per
/// start of the store (`StreamIDs`): the restored store starts a run above
/// every id its lost history issued, an agent's id falls in the gap, and it
/// gets `resync`. Checked by mutation: with the gap's resync turned into a
/// plain resume in `StreamIDs.plan` (and this scenario's own resync check
/// off), the checker found 15 acknowledged ops lost on store 2, a diverged
/// path, and no convergence within two minutes.
import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

extension FaultScenarios {
    @Test func aStoreRestoredWhileTheAgentsWereAwayTellsThemToResync() async throws {
        try await Scenario.run("store-restored-late-reconnect",
                               "a store restored from a backup while every agent was away; it accepts new ops before they reconnect") { run in
            try await withCluster { cluster in
                let history = History()
                let workload = cluster.startWorkload(history: history, tag: "l\(run)")
                try await pause(1_500)
                let store = cluster.stores[2]
                let file = store.data + "/store.sqlite"
                // The backup: a copy taken while the store is stopped cleanly.
                await store.stop()
                let backup = try [String: Data](uniqueKeysWithValues: ["", "-wal"].compactMap { suffix in
                    (try? Data(contentsOf: URL(fileURLWithPath: file + suffix))).map { (suffix, $0) }
                })
                try await store.start()
                // A listener of our own counts what the store issues after the
                // backup — what the agents see and the restore will lose.
                let watcher = try await cluster.storeClient(2).events()
                let before = try await cluster.storeClient(2).value("log", "/log/0").json?["value"]?.arrayValue?.count ?? 0
                try await pause(2_000)
                // On a busy machine the agents may take longer to come back to
                // store 2: the scenario needs ops the restore will lose.
                _ = try await eventually(30) { watcher.received.contains { $0.id != nil } }
                let lost = (try await cluster.storeClient(2).value("log", "/log/0").json?["value"]?.arrayValue?.count ?? 0) - before

                // Every agent goes away (SIGSTOP: its connections stay open,
                // it reads none of them) before the disk dies.
                for agent in cluster.agents { agent.process?.signal(SIGSTOP) }
                store.kill9()
                try await pause(300)  // the watcher reads what was sent before the kill
                let seen = watcher.received.compactMap { $0.id.flatMap { Int64($0) } }
                watcher.close()
                guard let lastSeen = seen.last else { throw TestFailure("store 2 issued no event after the backup") }
                for suffix in ["", "-wal", "-shm"] {
                    try? FileManager.default.removeItem(atPath: file + suffix)
                    if let data = backup[suffix] { try data.write(to: URL(fileURLWithPath: file + suffix)) }
                }
                try await store.start()

                // New ops reach the restored store before any agent is back:
                // more than it lost, so that a per-user numbering would pass
                // every id the agents hold (the margin covers events issued
                // before the watcher subscribed).
                let fresh = 2 * seen.count + 100
                try await pushDirectly(fresh, to: cluster.storeClient(2), history: history, tag: "l\(run)")
                // What an agent coming back will be told: resync first.
                let resumed = try await cluster.storeClient(2).events(lastEventID: String(lastSeen))
                let first = try await resumed.next(within: 10)
                resumed.close()
                guard first?.event == "resync" else {
                    throw TestFailure("a resume from \(lastSeen), an id of the lost history, got \(first.map { "\($0)" } ?? "nothing"), not resync")
                }

                for agent in cluster.agents { agent.process?.signal(SIGCONT) }
                try await pause(1_500)
                return await Scenario.check(cluster, workload, history, notes: [
                    "store 2 came back without the \(lost) element(s) of /log/0 (and the rest) it had accepted since the backup; "
                        + "the agents were away while it issued \(fresh) new events; a resume from the lost history's id \(lastSeen) got resync",
                ])
            }
        }
    }

    /// `count` `log` ops pushed straight to a store (not through an agent),
    /// recorded as acknowledged when the store says ok, under "agent" 3.
    private func pushDirectly(_ count: Int, to store: StoreClient, history: History, tag: String) async throws {
        let node = "direct-\(tag)"
        var seq: Int64 = 0
        while seq < Int64(count) {
            var items: [JSON] = []
            var ids: [Int] = []
            for _ in 0..<min(200, count - Int(seq)) {
                seq += 1
                let token = "\(tag)-direct-\(seq)"
                let target = PathRef(type: "log", path: "/log/\(seq % Int64(Workload.logPaths))")
                ids.append(history.invoke(agent: 3, target, .token(token)))
                items.append(["type": .string(target.type), "path": .string(target.path),
                              "op": payloadOp(nowMs(), token, .string(token), node: node, seq: seq)])
            }
            let answer = try await store.batch(items)
            let results = answer.json?["results"]?.arrayValue ?? []
            guard answer.status == 200, results.count == ids.count else { throw TestFailure("batch to store 2: \(answer.status) \(answer.text)") }
            for (id, result) in zip(ids, results) {
                if result["ok"] == true && result["noop"] == nil {
                    history.finish(id, .acknowledged)
                } else {
                    history.finish(id, .refused, detail: result.canonicalString)
                }
            }
        }
    }
}
