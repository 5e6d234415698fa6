/// The agent's live dashboard: a page and an SSE stream of snapshots on a
/// loopback TCP port of its own, behind a per-start token (docs/agent.md).
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import TeaBag
import TeaBagCore
import TeaBagPlugins
import TeaBagServerKit

public struct DashboardServer: Sendable {
    let token: DashboardToken
    let sampler: DashboardSampler
    /// The listener's address once bound.
    public let address: BoundAddress
    /// The listener and the sampler.
    public let services: [any Service]

    /// `http://127.0.0.1:PORT/?token=…` once listening.
    public var url: String? { address.url.map { "\($0)/?token=\(token.value)" } }

    static func build(client: TeaBagClient, plugins: PluginHost, port: Int, idleTimeout: Duration, started: Date,
                      logger: Logger) -> DashboardServer {
        let token = DashboardToken.random()
        let sampler = DashboardSampler(client: client, plugins: plugins, started: started)
        let router = Router(context: ServerContext.self)
        router.add(middleware: DashboardTokenCheck<ServerContext>(token: token))
        router.get("/") { _, _ in DashboardResponses.page(DashboardPage.html) }
        router.get("/events") { _, context in events(sampler, channel: context.channel) }
        let address = BoundAddress()
        let application = Application(router: router, server: HTTPServerBuilder.teabag(idleTimeout: idleTimeout),
                                      configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "teabag-agent-dashboard"),
                                      onServerRunning: { address.set($0) }, logger: logger)
        return DashboardServer(token: token, sampler: sampler, address: address,
                               services: [application, SamplerService(sampler: sampler)])
    }

    /// One `state` event per changed snapshot, the current one first.
    private static func events(_ sampler: DashboardSampler, channel: any Channel) -> Response {
        EventStreamResponse.make(opening: "retry: 1000\n\n", channel: channel, source: {
            let snapshots = await sampler.subscribe()
            await sampler.sample()
            return snapshots
        }, frame: { "event: state\ndata: \($0)\n\n" })
    }
}

struct SamplerService: Service {
    let sampler: DashboardSampler

    func run() async throws {
        let task = Task { await sampler.run() }
        try? await gracefulShutdown()
        task.cancel()
        await task.value
    }
}
