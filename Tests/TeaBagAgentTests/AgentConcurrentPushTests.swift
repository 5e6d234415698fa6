import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

/// Pushes that share the agent's group commit (issue 15).
@Suite struct AgentConcurrentPushTests {
    /// 16 pushes to one `log` path at once: each answer is the log after its
    /// own op, so the answers, ordered, must each extend the one before by
    /// exactly one token — every op applied once, in the order the agent
    /// answered — and the stores end up with the same 16 ops.
    @Test func sixteenConcurrentPushesToOnePathAreEachAppliedOnceInTheOrderAnswered() async throws {
        let user = try await EnrolledUser.start(stores: 2)
        let agent = try await AgentProcess.start(user)
        let base = "http+unix://" + (agent.socket.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? agent.socket)
        let tokens = (0..<16).map { "t\($0)" }
        let answers = try await withThrowingTaskGroup(of: (String, HTTPAnswer).self) { group in
            for token in tokens {
                group.addTask { (token, try await HTTP.request(.POST, base + "/v1/push/main/log/shared", json: .string(token))) }
            }
            return try await group.reduce(into: [(String, HTTPAnswer)]()) { $0.append($1) }
        }
        var logs: [(token: String, log: [String])] = []
        for (token, answer) in answers {
            #expect(answer.status == 200, "push \(token): \(answer.status) \(answer.text)")
            let log = answer.json?["value"]?.arrayValue?.compactMap(\.stringValue) ?? []
            logs.append((token, log))
        }
        logs.sort { $0.log.count < $1.log.count }
        for (index, entry) in logs.enumerated() {
            #expect(entry.log.count == index + 1, "answer \(index) is the log after \(index + 1) ops: \(entry.log)")
            #expect(entry.log.last == entry.token, "the answer to \(entry.token) ends with its own op: \(entry.log)")
            if index > 0 { #expect(Array(entry.log.dropLast()) == logs[index - 1].log, "each answer extends the one before") }
        }
        let final = logs.last?.log ?? []
        #expect(Set(final) == Set(tokens) && final.count == 16, "every push applied exactly once: \(final)")

        let read = try await HTTP.request(.GET, base + "/v1/value/main/log/shared")
        #expect(read.json?["value"]?.arrayValue?.compactMap(\.stringValue) == final)
        #expect(try await eventually(15) {
            let zero = try await payloadShas(user, 0, "log", "/shared")
            let one = try await payloadShas(user, 1, "log", "/shared")
            return Set(zero).count == 16 && Set(one) == Set(zero)
        }, "both stores hold the 16 ops")
        for index in 0..<2 {
            #expect(try await user.client(index).value("log", "/shared").json?["value"]?.arrayValue?.compactMap(\.stringValue) == final)
        }
        agent.process.kill9()
        await user.stop()
    }
}
