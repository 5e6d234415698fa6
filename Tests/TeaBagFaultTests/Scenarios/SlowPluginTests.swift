/// A plugin whose fold takes 10 s, on one store: other users' requests and
/// the store's other routes keep answering meanwhile (a loose 2 s bound on a
/// busy machine), and the slow op itself is kept.
import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

extension FaultScenarios {
    @Test func aPluginTakingTenSecondsInFoldDoesNotHoldUpOtherUsersOrRoutes() async throws {
        try await Scenario.run("plugin-slow-fold", "a plugin whose fold sleeps 10 s, loaded by one store") { run in
            let plugins = try temporaryDirectory("slow-plugin")
            defer { try? FileManager.default.removeItem(atPath: plugins) }
            try FixturePlugin.build("slow_fold", into: plugins)
            return try await withCluster(ClusterOptions(storePlugins: [0: [plugins]])) { cluster in
                let store = cluster.stores[0]
                // Another user on the same store.
                try await Enrollment.createUser(tableURL: cluster.tableURL, tableKey: faultTableKey, user: 2, master: "other")
                try await Enrollment.enroll(tableURL: cluster.tableURL, storeURL: store.url, storeKey: faultStoreKey, user: 2, master: "other")
                let session = try await Enrollment.session(tableURL: cluster.tableURL, user: 2, master: "other")
                let other = StoreClient(userURL: store.url + "user/2/", token: try await Enrollment.storeToken(
                    tableURL: cluster.tableURL, session: session, storeUserURL: store.url + "user/2/", user: 2))
                #expect(try await other.value("counter", "/n").status == 200)

                let history = History()
                let workload = cluster.startWorkload(history: history, tag: "r\(run)")
                try await pause(1_000)
                let slowClient = cluster.storeClient(0)
                let started = ContinuousClock.now
                let slow = Task { try await slowClient.push("slow", "/slow", payloadOp(nowMs(), "slow-\(run)", 1)) }
                try await pause(300)
                var latencies: [(String, Duration)] = []
                func timed(_ what: String, _ request: () async throws -> HTTPAnswer) async throws {
                    let start = ContinuousClock.now
                    let answer = try await request()
                    latencies.append((what, ContinuousClock.now - start))
                    #expect(answer.status == 200, "\(what): \(answer.status) \(answer.text)")
                }
                for index in 0..<3 {
                    try await timed("user 2 push") { try await other.push("counter", "/n", payloadOp(nowMs(), "n-\(run)-\(index)", 1)) }
                    try await timed("user 2 value") { try await other.value("counter", "/n") }
                    try await timed("user 1 value of another type") { try await slowClient.value("log", "/log/0") }
                    try await timed("healthz") { try await HTTP.get(store.url + "healthz") }
                }
                let overlapped = ContinuousClock.now - started
                for (what, latency) in latencies {
                    #expect(latency < .seconds(2), "\(what) took \(latency) while a fold took 10 s")
                }
                let slowAnswer = try await slow.value
                #expect(slowAnswer.status == 200, "the slow op: \(slowAnswer.status) \(slowAnswer.text)")
                let worst = latencies.map(\.1).max() ?? .zero
                return await Scenario.check(cluster, workload, history, notes: [
                    "\(latencies.count) requests of user 2 and of other routes during the first \(Int(overlapped / .milliseconds(1))) ms of the 10 s fold; the slowest took \(Int(worst / .milliseconds(1))) ms",
                ])
            }
        }
    }
}
