import Foundation
import Testing
import TeaBag
import TeaBagCore
import TeaBagTestSupport

/// The mount table over time (issue 5, item 5): stores and channels added
/// at the table are picked up without a restart, removed ones dropped.
@Suite struct MountTableChangesTests {
    @Test func aStoreAddedLaterGetsEveryOpAndARemovedOneIsNoLongerUsed() async throws {
        try await withEnrolledUser(stores: 1) { user in
            let client = try await startClient(user)
            for _ in 0..<3 { try await client.push("main", "counter", "/m", 1) }
            #expect(try await eventually(20) { await client.isQuiet() })

            try await withStarted({ try await startStore(data: try temporaryDirectory("store")) }) { added in
                try await Enrollment.enroll(tableURL: user.table.url, storeURL: added.url)
                try await client.refreshTable()
                #expect(try await client.stores(of: "main").count == 2)
                // Own ops reach the new store through sync: no outbox entry waits there.
                let token = try await Enrollment.storeToken(tableURL: user.table.url, session: user.session, storeUserURL: added.userURL(1))
                let addedClient = StoreClient(userURL: added.userURL(1), token: token)
                #expect(try await eventually(10) { try await addedClient.ops("counter", "/m").count == 4 })

                let removal = try await HTTP.request(.DELETE, user.table.url + "user/1/table/main/store/\(Enrollment.storeID(added.userURL(1)))",
                                                     headers: [HTTP.basic("1", "secret")])
                #expect(removal.status == 200)
                try await client.refreshTable()
                #expect(try await client.stores(of: "main").map(\.userURL) == [user.store.userURL(1)])
                try await client.push("main", "counter", "/m", 1)
                #expect(try await eventually(20) { try await user.client(0).ops("counter", "/m").count == 5 })
                #expect(try await addedClient.ops("counter", "/m").count == 4)

                try await Enrollment.enroll(tableURL: user.table.url, storeURL: added.url, channel: "later")
                try await client.refreshTable()
                #expect(await client.channels == ["later", "main"])
                await client.close()
            }
        }
    }

    @Test func aClientWithTheMasterOpensItsOwnSession() async throws {
        try await withEnrolledUser(stores: 1) { user in
            var configuration = ClientConfiguration(tableURL: user.table.url, user: 1, credential: .master("secret"))
            configuration.policy.pruneMinOps = 32
            let client = try await TeaBagClient.connect(configuration, reducers: testReducers())
            #expect(try await client.push("main", "counter", "/s", 2) == 2)
            let wrong = TeaBagClient(ClientConfiguration(tableURL: user.table.url, user: 1, credential: .master("wrong")))
            await #expect(throws: TeaBagError.self) { try await wrong.start() }
            await client.close()
            await wrong.close()
        }
    }
}
