/// A reducer whose fold takes 10 s: `GET value` answers within its budget
/// (503 with Retry-After), and the path is never folded twice at once.
import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Store: a slow reducer's values")
struct SlowValueTests {
    @Test("GET value of a path whose fold outlasts the budget is 503 StoreError:SlowReducer with Retry-After, never a hang")
    func slowValueAnswersWithinBudget() async throws {
        let plugins = try temporaryDirectory("slow-value")
        defer { try? FileManager.default.removeItem(atPath: plugins) }
        try FixturePlugin.build("slow_fold", into: plugins)
        try await withEnrolledUser(configureStore: { $0.pluginDirectories = [Repository.plugins, plugins] }) { u in
            let c = u.client()

            // The writer gives up on the fold after its patience and keeps the op; the fold runs on.
            #expect(try await c.push("slow", "/a", payloadOp(1, "a1", 1)).status == 200)
            // That abandoned fold still holds the path: a read must not fold it a second time.
            var started = ContinuousClock.now
            let busy = try await c.value("slow", "/a")
            #expect(busy.status == 503)
            #expect(busy.json?["error"]?["name"] == "StoreError:SlowReducer")
            #expect(busy.headers.first(name: "Retry-After") == "5")
            #expect(ContinuousClock.now - started < .seconds(4))

            // Another path: the read folds it itself, and gives up after the budget.
            #expect(try await c.push("slow", "/b", payloadOp(2, "b1", 1)).status == 200)
            started = ContinuousClock.now
            let slow = try await c.value("slow", "/b")
            #expect(slow.status == 503)
            #expect(ContinuousClock.now - started >= .seconds(1))
            #expect(ContinuousClock.now - started < .seconds(8))
            // Other types answer at once meanwhile.
            #expect(try await c.push("counter", "/n", payloadOp(3, "n1", 4)).status == 200)
            #expect(try await c.value("counter", "/n").json?["value"] == 4)
        }
    }
}
