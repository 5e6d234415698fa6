import Foundation
import Testing
import TeaBag
import TeaBagCore
import TeaBagTestSupport

/// A client whose storage goes back in time (issue 14 item 1): its node
/// record as an older backup had it, while the store holds — and, pruned,
/// covers — later ops of the same node.
@Suite struct StorageRollbackTests {
    @Test func aClientRestoredFromAnOlderStorageNeverReusesASeqTheStoreCovers() async throws {
        try await withEnrolledUser(stores: 1) { user in
            let storage = InMemoryClientStorage()
            let first = try await startClient(user, storage: storage, pruneMinOps: 2)
            try await first.push("main", "counter", "/r", 1)
            #expect(try await eventually(30) { await first.isQuiet() })
            await first.close()
            let backup = try #require(try storage.loadNode())

            // Later writes, delivered and pruned into a base whose covers name them.
            let second = try await startClient(user, storage: storage, pruneMinOps: 2)
            for _ in 0..<4 { try await second.push("main", "counter", "/r", 1) }
            #expect(try await eventually(10) {
                let ops = try await user.client(0).ops("counter", "/r")
                return await second.isQuiet() && (ops.first?["covers"]?[backup.id]?.int64Value ?? 0) >= backup.nextSeq
            }, "the store pruned the node's ops into its base")
            await second.close()
            #expect(try await user.client(0).value("counter", "/r").json?["value"] == 5)

            // The restore: the node record as the backup had it, nothing else.
            let restored = InMemoryClientStorage()
            try restored.saveNode(backup)
            let third = try await startClient(user, storage: restored, pruneMinOps: 2)
            try await third.push("main", "counter", "/r", 10)
            #expect(try await eventually(10) {
                guard await third.isQuiet() else { return false }
                return try await user.client(0).value("counter", "/r").json?["value"] == 15
            }, "the store holds the write made after the restore")
            #expect(try await third.get("main", "counter", "/r") == 15)
            #expect(await third.status().behindStores != nil, "the client reports that the store held writes its storage did not")
            #expect(await third.status().json["behind_stores"] == true)
            await third.close()
        }
    }
}
