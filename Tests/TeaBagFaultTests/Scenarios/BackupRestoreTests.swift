/// A store whose disk is lost and whose database is restored from an older
/// backup (what docs/operations.md tells an operator to do with a corrupt
/// file): the store comes back without the ops it accepted after the
/// backup, which the agents had already delivered and dropped from their
/// outboxes. They must notice and send them again.
import Foundation
import Testing
import TeaBagTestSupport

extension FaultScenarios {
    @Test func aStoreRestoredFromAnOlderBackupGetsBackWhatItLost() async throws {
        try await Scenario.run("store-restored-from-backup", "a store's database replaced by a backup 2 s older under load") { run in
            try await withCluster { cluster in
                let history = History()
                let workload = cluster.startWorkload(history: history, tag: "r\(run)")
                try await pause(1_500)
                let store = cluster.stores[2]
                let file = store.data + "/store.sqlite"
                // The backup: a copy taken while the store is stopped cleanly.
                await store.stop()
                let backup = try [String: Data](uniqueKeysWithValues: ["", "-wal"].compactMap { suffix in
                    (try? Data(contentsOf: URL(fileURLWithPath: file + suffix))).map { (suffix, $0) }
                })
                try await store.start()
                let before = try await cluster.storeClient(2).value("log", "/log/0").json?["value"]?.arrayValue?.count ?? 0
                try await pause(2_000)
                let lost = (try await cluster.storeClient(2).value("log", "/log/0").json?["value"]?.arrayValue?.count ?? 0) - before
                // The disk dies; the operator restores the backup.
                store.kill9()
                for suffix in ["", "-wal", "-shm"] {
                    try? FileManager.default.removeItem(atPath: file + suffix)
                    if let data = backup[suffix] { try data.write(to: URL(fileURLWithPath: file + suffix)) }
                }
                try await store.start()
                try await pause(1_500)
                return await Scenario.check(cluster, workload, history, notes: [
                    "store 2 came back without the \(lost) element(s) of /log/0 (and the rest) it had accepted since the backup",
                ])
            }
        }
    }
}
