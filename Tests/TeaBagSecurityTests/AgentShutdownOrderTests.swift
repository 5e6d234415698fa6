import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

/// ServiceGroup stops services in reverse order of its list. The agent lists
/// its listeners last, so on shutdown they stop first: a request either gets
/// its answer from a client that is still open, or no connection at all —
/// never `ClientError:Closed` from an API that outlived its client.
@Suite("Agent shutdown order")
struct AgentShutdownOrderTests {
    @Test("the listeners come after the client in the agent's services")
    func listenersListedLast() async throws {
        try await withDeployment(agent: true) { deployment in
            let agent = try #require(deployment.agent)
            let kinds = agent.server.services.map { String(describing: type(of: $0)) }
            await deployment.stop()
            let client = try #require(kinds.firstIndex { $0.hasPrefix("ClientService") }, "\(kinds)")
            let listeners = kinds.indices.filter { kinds[$0].hasPrefix("Application") }
            #expect(listeners.count >= 2, "the socket, the TCP port (and the dashboard): \(kinds)")
            #expect(listeners.allSatisfy { $0 > client }, "\(kinds)")
            #expect(listeners.last == kinds.count - 1, "\(kinds)")
        }
    }

    @Test("pushes racing a shutdown are answered, or find no listener; never a closed client")
    func pushesDuringShutdown() async throws {
        try await withDeployment(agent: true) { deployment in
            let agent = try #require(deployment.agent)
            let url = agent.url + "v1/push/main/counter/hits"
            let first = try await HTTP.request(.POST, url, json: 1)
            #expect(first.status == 200, "\(first.text)")

            let refusals = Locked<[String]>([])
            let answered = Locked(0)
            let stopping = Locked(false)
            // A throw below must not leave the load retrying for ever.
            defer { stopping.withLock { $0 = true } }
            let load = Task {
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<4 {
                        group.addTask {
                            while !stopping.current {
                                // No connection (the listener has stopped) is what a stopping agent may do.
                                guard let answer = try? await HTTP.request(.POST, url, json: 1, timeout: .seconds(10)) else {
                                    try? await Task.sleep(for: .milliseconds(5))
                                    continue
                                }
                                if answer.status == 200 {
                                    answered.withLock { $0 += 1 }
                                } else {
                                    refusals.withLock { $0.append("\(answer.status) \(answer.json?["error"]?["name"]?.stringValue ?? answer.text)") }
                                }
                            }
                        }
                    }
                }
            }
            // Pushes under way before the stop (a busy machine may take a while to answer the first).
            #expect(try await eventually(20) { answered.current >= 5 })
            await agent.stop()
            stopping.withLock { $0 = true }
            await load.value
            await deployment.user.stop()

            #expect(answered.current > 0)
            #expect(!refusals.current.contains { $0.contains(ProtocolError.clientClosed.name) }, "\(refusals.current)")
            // What else a stopping agent may say is a clean 503, nothing else.
            #expect(refusals.current.allSatisfy { $0.hasPrefix("503 ") }, "\(refusals.current)")
        }
    }
}
