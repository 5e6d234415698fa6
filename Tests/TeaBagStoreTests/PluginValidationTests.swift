import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Store: validation and values by the shipped plugins")
struct PluginValidationTests {
    @Test("counter: a string payload is 400 StoreError:InvalidOp with the plugin's message, and nothing is stored")
    func refusedPayload() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        #expect(u.store.server.plugins.types.contains("counter"))
        let c = u.client()
        #expect(try await c.push("counter", "/n", payloadOp(1, "ok-1", 2)).isAccepted)
        let before = try await c.ops("counter", "/n")
        let refusals: [(JSON, String)] = [
            ("abc", #"counter: payload must be a number, got "string""#),
            (nil, #"counter: payload must be a number, got "null""#),
            (["n": 1], #"counter: payload must be a number, got "object""#),
            (true, #"counter: payload must be a number, got "boolean""#),
        ]
        for (payload, message) in refusals {
            let answer = try await c.push("counter", "/n", payloadOp(2, "bad-\(payload)", payload))
            #expect(answer.status == 400, "\(payload)")
            #expect(answer.errorName == "StoreError:InvalidOp", "\(payload)")
            #expect(answer.errorMessage == message, "\(payload)")
        }
        #expect(try await c.ops("counter", "/n") == before)
        #expect(try await c.value("counter", "/n").json == ["value": 2, "date": 1, "sha": "ok-1"])
        // Refused for good: the same sha with a good payload is a new op, not a duplicate.
        #expect(try await c.push("counter", "/n", payloadOp(2, "bad-\"abc\"", 3)).isAccepted)
        // A store holds no judgement on types it has no plugin for: the same string payload is fine there.
        #expect(try await c.push("note", "/n", payloadOp(2, "s", "abc")).isAccepted)
    }

    @Test("counter: GET value answers {value, date, sha}, the sum of the payloads in oplog order")
    func sum() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        #expect(try await c.value("counter", "/sum").json == ["value": nil, "date": 0, "sha": .string(Op.emptySHA)])
        for (date, amount) in [(Int64(30), JSON.number(-0.5)), (10, 1), (20, 2.5), (40, 100)] {
            #expect(try await c.push("counter", "/sum", payloadOp(date, "s\(date)", amount)).isAccepted)
        }
        let answer = try await c.value("counter", "/sum")
        #expect(answer.status == 200)
        #expect(answer.json == ["value": 103, "date": 40, "sha": "s40"])
        // Over a base: its value plus what follows it.
        #expect(try await c.push("counter", "/sum", valueOp(35, "base", 1_000)).isAccepted)
        #expect(try await c.value("counter", "/sum").json == ["value": 1_100, "date": 40, "sha": "s40"])
        #expect(try await c.ops("counter", "/sum") == [valueOp(35, "base", 1_000), payloadOp(40, "s40", 100)])
    }

    @Test("a type with no plugin: GET value is 404 StoreError:NoReducer")
    func noReducer() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        #expect(try await c.push("note", "/x", payloadOp(1, "x", 1)).isAccepted)
        let answer = try await c.value("note", "/x")
        #expect(answer.status == 404)
        #expect(answer.errorName == "StoreError:NoReducer")
        #expect(try await c.value("note", "/never").errorName == "StoreError:NoReducer")
    }

    @Test("a base the reducer cannot fold over: the push is accepted and the op skipped in the value, not refused")
    func foldSkips() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        let base = valueOp(10, "base", "not a number")
        #expect(try await c.push("counter", "/skip", base).isAccepted)
        let skippedBefore = u.store.server.plugins.skippedCounts["counter"] ?? 0
        let op = payloadOp(20, "p1", 5)
        #expect(try await c.push("counter", "/skip", op).isAccepted)
        #expect(try await c.ops("counter", "/skip") == [base, op])
        let value = try await c.value("counter", "/skip")
        #expect(value.status == 200)
        #expect(value.json?["value"] == "not a number")
        #expect((u.store.server.plugins.skippedCounts["counter"] ?? 0) > skippedBefore)
        // Reported on /metrics (docs/plugins.md#the-abi-in-one-minute: a skipped op is counted).
        let metrics = try await HTTP.get(u.store.url + "metrics").text
        let skipped = metrics.split(separator: "\n")
            .filter { $0.hasPrefix("teabag_fold_skipped_ops_total") && $0.contains("counter") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
        #expect(skipped >= 1, "\(metrics)")
        // A base that is a number again makes everything after it fold.
        #expect(try await c.push("counter", "/skip", valueOp(15, "base-2", 1)).isAccepted)
        #expect(try await c.value("counter", "/skip").json == ["value": 6, "date": 20, "sha": "p1"])
    }

    @Test("other shipped plugins validate too: set refuses what is not {add} or {remove}")
    func otherPlugins() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        let refused = try await c.push("set", "/s", payloadOp(1, "s1", ["put": 1]))
        #expect(refused.status == 400)
        #expect(refused.errorName == "StoreError:InvalidOp")
        #expect(refused.errorMessage?.contains(#"payload must be {"add": x} or {"remove": x}"#) == true, "\(refused.text)")
        #expect(try await c.push("set", "/s", payloadOp(2, "s2", ["add": "b"])).isAccepted)
        #expect(try await c.push("set", "/s", payloadOp(3, "s3", ["add": "a"])).isAccepted)
        #expect(try await c.value("set", "/s").json == ["value": ["a", "b"], "date": 3, "sha": "s3"])
    }

    @Test("a plugin dropped into the plugin directory applies to the next requests, without a restart")
    func hotReload() async throws {
        let plugins = try temporaryDirectory("plugins")
        defer { try? FileManager.default.removeItem(atPath: plugins) }
        let u = try await EnrolledUser.start(configureStore: {
            $0.pluginDirectories = [plugins]
            $0.pluginPollMs = 50
        })
        defer { Task { await u.stop() } }
        let c = u.client()
        // No plugin yet: an unknown type, accepted as is, and no value.
        #expect(try await c.push("counter", "/h", payloadOp(1, "h1", "not a number")).isAccepted)
        #expect(try await c.value("counter", "/h").errorName == "StoreError:NoReducer")

        try FileManager.default.copyItem(atPath: Repository.plugins + "/counter.so", toPath: plugins + "/counter.so")
        #expect(try await eventually(20) { u.store.server.plugins.types.contains("counter") })
        let refused = try await c.push("counter", "/h", payloadOp(2, "h2", "not a number"))
        #expect(refused.status == 400)
        #expect(refused.errorName == "StoreError:InvalidOp")
        #expect(try await c.push("counter", "/h", payloadOp(3, "h3", 4)).isAccepted)
        // The value folds what is held; the op accepted before the plugin came is skipped in it.
        #expect(try await c.value("counter", "/h").json == ["value": 4, "date": 3, "sha": "h3"])
    }
}
