/// A plugin that crashes (SIGSEGV in fold) on one store. What the host does:
/// the fold runs in the store's process, so the store dies with the signal
/// and the request that triggered it gets no answer. Restarted without the
/// plugin, the store has lost nothing it acknowledged, and catches up.
///
/// Swift's runtime backtracer (on by default on Linux) first writes a
/// symbolicated backtrace of every thread to stderr, which for the debug
/// build took over a minute on a busy two-core machine; this store runs
/// with `SWIFT_BACKTRACE=enable=no`, so it dies at once.
import Foundation
import Testing
import TeaBagTestSupport

extension FaultScenarios {
    @Test func aPluginCrashingInFoldKillsItsStoreButNothingAcknowledgedIsLost() async throws {
        try await Scenario.run("plugin-crash", "a plugin whose fold dereferences NULL, loaded by one store; restarted without it") { run in
            let plugins = try temporaryDirectory("crash-plugin")
            defer { try? FileManager.default.removeItem(atPath: plugins) }
            try FixturePlugin.build("crash_fold", into: plugins)
            return try await withCluster(ClusterOptions(storePlugins: [2: [plugins]], storeEnvironment: [2: ["SWIFT_BACKTRACE": "enable=no"]])) { cluster in
                let history = History()
                let workload = cluster.startWorkload(history: history, tag: "r\(run)")
                try await pause(1_500)
                let store = cluster.stores[2]
                // One op of the crashing type, straight to store 2 (the agents have no reducer for it).
                step("pushing an op of the crashing type to store 2")
                let answer = try? await cluster.storeClient(2).push("crash", "/boom", payloadOp(nowMs(), "boom-\(run)", 1))
                let death = try await store.waitForDeath(seconds: 30)
                #expect(death == SIGSEGV, "store 2 should die by SIGSEGV, got \(death.map(String.init) ?? "still running")")
                #expect(answer == nil, "the crashing push got an answer: \(answer?.status ?? 0)")
                step("store 2 ended with status \(death.map(String.init) ?? "none")")
                try await pause(2_000)
                store.setArguments(FaultCluster.storeArguments(config: cluster.config, data: store.data, plugins: []))
                try await store.start()
                step("store 2 restarted without the plugin")
                // The op whose fold crashed was never committed: nothing was acknowledged for it.
                let kept = try await cluster.storeClient(2).ops("crash", "/boom").count - 1
                try await pause(1_500)
                return await Scenario.check(cluster, workload, history, notes: [
                    "store 2 died by signal \(death.map(String.init) ?? "none"); the crashing push got no answer; its op was \(kept == 0 ? "not kept" : "kept") on restart",
                ])
            }
        }
    }
}
