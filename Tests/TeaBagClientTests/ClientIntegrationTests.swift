import Foundation
import Testing
import TeaBag
import TeaBagCore
import TeaBagTestSupport

/// The client runtime against a real table and two real stores on loopback
/// (issue 5): streams, outages, prunes, refusals, the original flow, and a
/// revoked session.
@Suite struct ClientIntegrationTests {
    @Test func aPushOnOneClientReachesTheOtherThroughItsStream() async throws {
        try await withEnrolledUser(stores: 2) { user in
            let a = try await startClient(user)
            let b = try await startClient(user)
            let seen = UpdateLog(await b.updates("main", type: "counter", path: "/hits"))
            #expect(try await a.push("main", "counter", "/hits", 5) == 5)
            #expect(try await eventually(20) { seen.all.last?.value == 5 })
            #expect(try await b.get("main", "counter", "/hits") == 5)
            #expect(try await eventually(20) { try await converged(user, [a, b], "counter", "/hits") })
            #expect(try await storeOplog(user, 0, "counter", "/hits").count == 2)
            seen.cancel()
            await a.close()
            await b.close()
        }
    }

    @Test func theOriginalClientFlow() async throws {
        try await withEnrolledUser(stores: 2) { user in
            let client = try await startClient(user)
            #expect(try await client.get("main", "test", "/a") == 0)
            #expect(try await client.push("main", "test", "/a", 1) == 1)
            #expect(try await client.get("main", "test", "/a") == 1)
            await client.close()
        }
    }

    @Test func writesContinueWhileAStoreIsDownAndEverythingConvergesAndPrunesAfter() async throws {
        try await withEnrolledUser(stores: 2) { user in
            let client = try await startClient(user, pruneMinOps: 6)
            for _ in 0..<3 { try await client.push("main", "counter", "/n", 1) }
            #expect(try await eventually(20) { try await converged(user, [client], "counter", "/n") })

            let down = user.stores[1]
            let port = URL(string: down.url)!.port!
            await down.stop()
            for _ in 0..<5 { try await client.push("main", "counter", "/n", 1) }
            #expect(try await client.get("main", "counter", "/n") == 8)
            let waiting = await client.status().channels[0].stores.first { $0.url == down.userURL(1) }
            #expect(waiting?.outbox == 5)
            // The live store holds all eight; the down store holds pruning back.
            #expect(try await eventually(20) { try await storeOplog(user, 0, "counter", "/n").count == 9 })

            try await withStarted({ try await startStore(data: down.data, configure: { $0.port = port }) }) { _ in
                #expect(try await eventually(15) {
                    let zero = try await storeOplog(user, 0, "counter", "/n")
                    let one = try await storeOplog(user, 1, "counter", "/n")
                    return zero.count == 1 && zero == one
                })
                // Pruned: one covering value-op whose value folds all eight.
                let base = try await user.client(1).ops("counter", "/n")[0]
                #expect(base["value"] == 8)
                #expect(base["covers"] != nil)
                #expect(try await client.get("main", "counter", "/n") == 8)
                await client.close()
            }
        }
    }

    @Test func aConcurrentPruneAndALateOpFromOthersAreMergedAndSpread() async throws {
        try await withEnrolledUser(stores: 2) { user in
            let client = try await startClient(user)
            for _ in 0..<3 { try await client.push("main", "counter", "/c", 1) }
            #expect(try await eventually(20) { try await converged(user, [client], "counter", "/c") })
            let ops = try await user.client(0).ops("counter", "/c")
            let node = try #require(ops[1]["node"]?.stringValue)
            // A node's seqs start at a floor taken from the clock (docs/sync.md).
            let highestSeq: Int64? = ops.dropFirst().compactMap { $0["seq"]?.int64Value }.max()
            let highest = try #require(highestSeq)

            // Another device pruned the three into a value-op and sent it to store 0 only.
            let prune = OpFactory.valueOp(value: 3, covers: [node: highest], date: nowMs())
            #expect(try await user.client(0).push("counter", "/c", prune.json).status == 200)
            // An op from a third device, older than that base (late), reaches store 1 only.
            let late = OpFactory.payloadOp(payload: 10, node: "other-device", seq: 1, date: 1_000)
            #expect(try await user.client(1).push("counter", "/c", late.json).status == 200)

            #expect(try await eventually(10) {
                let zero = try await storeOplog(user, 0, "counter", "/c")
                let one = try await storeOplog(user, 1, "counter", "/c")
                return zero == [prune.sha, late.sha] && zero == one
            })
            #expect(try await client.get("main", "counter", "/c") == 13)
            #expect(try await client.push("main", "counter", "/c", 1) == 14)
            await client.close()
        }
    }

    @Test func anOpRefusedByOneStoresValidatorIsReportedAndTheChannelGoesOn() async throws {
        // Channel "loose": a strict store validating with the shipped plugins,
        // and a lenient one that has none and accepts any type. (Stores keep
        // oplogs per user, not per channel, so the channel gets stores of its own.)
        try await withEnrolledUser(stores: 2) { user in
            try await withStarted({ try await startStore(data: try temporaryDirectory("store"), configure: { $0.pluginDirectories = [] }) }) { lenient in
                try await withStarted({ try await startStore(data: try temporaryDirectory("store")) }) { strict in
                    try await Enrollment.enroll(tableURL: user.table.url, storeURL: lenient.url, channel: "loose")
                    try await Enrollment.enroll(tableURL: user.table.url, storeURL: strict.url, channel: "loose")

                    // This client's counter accepts anything and counts numbers only.
                    let reducers = testReducers()
                    reducers.register(type: "counter") { state, op in .number((state.doubleValue ?? 0) + (op.payload?.doubleValue ?? 0)) }
                    let client = try await startClient(user, reducers: reducers)
                    let failures = await client.failedWrites()
                    #expect(await client.channels == ["loose", "main"])

                    try await client.push("main", "counter", "/ok", 1)
                    try await client.push("loose", "counter", "/v", "not a number")
                    var iterator = failures.makeAsyncIterator()
                    let failure = try #require(await iterator.next())
                    #expect(failure.error.name == "StoreError:InvalidOp")
                    #expect(failure.channel == "loose" && failure.path == "/v")

                    // Later writes still reach both stores of the channel.
                    try await client.push("loose", "counter", "/v", 2)
                    let strictOps = StoreClient(userURL: strict.userURL(1), token: try await Enrollment.storeToken(
                        tableURL: user.table.url, session: user.session, storeUserURL: strict.userURL(1), channel: "loose"))
                    #expect(try await eventually(20) { try await strictOps.ops("counter", "/v").compactMap { $0["payload"] } == [2] })
                    await client.close()
                }
            }
        }
    }

    @Test func aRevokedSessionEndsInAClearErrorOnEveryCall() async throws {
        try await withEnrolledUser(stores: 2) { user in
            let (session, _) = try await user.newToken()
            let client = try await startClient(user, session: session) { $0.tableRefresh = .milliseconds(200) }
            try await client.push("main", "counter", "/x", 1)
            let revoke = try await HTTP.request(.DELETE, user.table.url + "user/1/session/\(session)")
            #expect(revoke.status == 200)
            var failure: TeaBagError?
            _ = try await eventually(20) {
                do { try await client.push("main", "counter", "/x", 1) } catch let error as TeaBagError { failure = error }
                return failure != nil
            }
            #expect(failure?.name == "UtilityError:InvalidSessionToken")
            #expect(failure?.message.contains("new session") == true)
            await #expect(throws: TeaBagError.self) { try await client.get("main", "counter", "/x") }
            await client.close()
        }
    }
}
