/// The security suite's deployments in scopes that await their shutdown
/// (see `TeaBagTestSupport/Scoped.swift`).
import TeaBagAgent
import TeaBagStore
import TeaBagTable
import TeaBagTestSupport

extension Deployment: Stoppable {}
extension ShortIdleDeployment: Stoppable {}
extension RunningAgent: Stoppable {}

/// A `Deployment`, stopped (agent first) when `body` ends.
func withDeployment(stores: Int = 1, agent: Bool = false,
                       configureStore: (inout StoreConfiguration) -> Void = { _ in },
                       configureTable: (inout TableConfiguration) -> Void = { _ in },
                       _ body: (Deployment) async throws -> Void) async throws {
    try await withStarted({
        try await Deployment.start(stores: stores, agent: agent, configureStore: configureStore, configureTable: configureTable)
    }, body)
}

/// A `ShortIdleDeployment`, stopped when `body` ends.
func withShortIdleDeployment(idleTimeoutMs: Int, agent: Bool = false, _ body: (ShortIdleDeployment) async throws -> Void) async throws {
    try await withStarted({ try await ShortIdleDeployment.start(idleTimeoutMs: idleTimeoutMs, agent: agent) }, body)
}

/// An agent of `user` in this process, stopped when `body` ends.
func withAgent(_ user: EnrolledUser, configure: (inout AgentConfiguration) -> Void = { _ in },
                  _ body: (RunningAgent) async throws -> Void) async throws {
    try await withStarted({ try await RunningAgent.start(user, configure: configure) }, body)
}
