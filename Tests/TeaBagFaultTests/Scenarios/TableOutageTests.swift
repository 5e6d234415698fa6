/// The table down under load: stores keep answering tokens they have
/// already checked, a token they have never seen gets 503 (retry later), an
/// agent restarted meanwhile starts from what it kept, and everything
/// resumes once the table is back.
import Testing
import TeaBagTestSupport

extension FaultScenarios {
    @Test func theTableDownLeavesCachedTokensWorkingAndNewOnesRetryLater() async throws {
        try await Scenario.run("table-down", "the table killed for 3 s under load; an agent restarted meanwhile") { run in
            try await withCluster { cluster in
                let history = History()
                let workload = cluster.startWorkload(history: history, tag: "r\(run)")
                try await pause(1_000)
                // A token store 0 has checked already, and one it has never seen.
                let cached = cluster.storeClient(0)
                #expect(try await cached.value("log", "/log/0").status == 200)
                let session = try await Enrollment.session(tableURL: cluster.tableURL)
                let fresh = cached.with(token: try await Enrollment.storeToken(tableURL: cluster.tableURL, session: session,
                                                                              storeUserURL: cluster.enrolledURLs[0]))
                cluster.table.kill9()
                let before = try await logLength(cached)
                try await pause(1_000)
                let refused = try await fresh.value("log", "/log/0")
                #expect(refused.status == 503 && refused.errorName == "StoreError:TableUnavailable", "\(refused.status) \(refused.text)")
                #expect(try await cached.value("log", "/log/0").status == 200)
                // An agent restarted while the table is down.
                await cluster.agents[2].stop()
                try await cluster.agents[2].start()
                try await pause(1_000)
                // The stores kept taking the agents' ops meanwhile.
                let during = try await logLength(cached)
                #expect(during > before, "store 0 received nothing while the table was down (\(before) → \(during))")
                try await cluster.table.start()
                #expect(try await eventually(20) { try await fresh.value("log", "/log/0").status == 200 },
                        "the new token works once the table is back")
                try await pause(1_000)
                return await Scenario.check(cluster, workload, history, notes: [
                    "a token never checked before: 503 StoreError:TableUnavailable while the table is down, 200 after",
                    "store 0's /log/0 grew from \(before) to \(during) elements while the table was down",
                ])
            }
        }
    }
}

/// Elements of the shared `log /log/0` on a store.
private func logLength(_ client: StoreClient) async throws -> Int {
    let answer = try await client.value("log", "/log/0")
    guard answer.status == 200 else { throw TestFailure("store value: \(answer.status) \(answer.text)") }
    return answer.json?["value"]?.arrayValue?.count ?? 0
}
