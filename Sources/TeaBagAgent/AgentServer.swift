/// Builds the agent: configuration → storage → plugins → client runtime →
/// the local API on a Unix socket (mode 0600) and, when configured, a
/// loopback TCP port, with its background services.
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import TeaBag
import TeaBagConfig
import TeaBagCore
import TeaBagPlugins
import TeaBagServerKit

public struct AgentServer: Sendable {
    public let client: TeaBagClient
    public let plugins: PluginHost
    public let metrics: ServerMetrics
    public let configuration: AgentConfiguration
    /// Every service to run: the client, the plugin watcher, the gauges, the
    /// dashboard, then the listeners — listed last so that they stop first.
    public let services: [any Service]
    /// The TCP listener's address once bound (nil without one).
    public let tcpAddress: BoundAddress
    /// Every route of the local API, `METHOD /path/{param}` (docs/openapi/agent.yaml describes each).
    public let routes: [String]
    /// The live dashboard (nil when `agent.dashboard_port` is -1).
    public let dashboard: DashboardServer?

    public static func build(configuration: AgentConfiguration, logger: Logger, announce: Bool = false) throws -> AgentServer {
        try configuration.validate()
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try UnixSocketFile.claim(configuration.socketPath)
        let storage = try SQLiteClientStorage(path: configuration.databasePath, durability: configuration.durability)
        let metrics = ServerMetrics(role: "agent")
        let plugins = PluginHost(directories: configuration.pluginDirectories, declared: configuration.declaredReducers,
                                 logger: logger, metricsFactory: metrics.factory)
        if let error = plugins.declarationErrors.first {
            throw ConfigError(origin: "", key: "", problem: error.message)
        }
        let reducers = ReducerRegistry(plugins: plugins)
        let client = TeaBagClient(configuration.clientConfiguration(storage: storage), reducers: reducers,
                                  logger: logger, clock: configuration.clock)
        let started = Date()
        let routes = AgentRoutes(client: client, plugins: plugins, metrics: metrics, limits: BodyLimits(), started: started)
        let dashboard = configuration.dashboardPort.map {
            DashboardServer.build(client: client, plugins: plugins, port: $0, idleTimeout: .milliseconds(configuration.idleTimeoutMs),
                                  started: started, logger: logger)
        }
        func router() -> Router<ServerContext> {
            let router = Router(context: ServerContext.self)
            router.add(middleware: ObservedRequests(metrics: metrics))
            router.addOperationalRoutes(metrics: metrics)
            routes.register(on: router)
            DashboardLink(dashboard: dashboard).register(on: router)
            return router
        }
        // ServiceGroup stops its services in reverse order, each after the
        // one before has returned: the listeners are listed last so that they
        // stop first (in-flight requests answered, no new ones), and only then
        // the dashboard, the watcher and the client they all use.
        var services: [any Service] = [ClientService(client: client, logger: logger)]
        services.append(PluginWatcher(plugins: plugins, interval: .milliseconds(configuration.pluginPollMs), logger: logger))
        services.append(PeriodicTask(every: .seconds(1)) { await AgentGauges.update(metrics, client: client) })
        services += dashboard?.services ?? []
        let fastRoutes = AgentFastRoutes(client: client, reducers: reducers, limits: routes.limits,
                                         value: .init(metrics, route: "/v1/value/{channel}/{type}/**", method: "GET"),
                                         push: .init(metrics, route: "/v1/push/{channel}/{type}/**", method: "POST"))
        let server = HTTPServerBuilder.teabag(idleTimeout: .milliseconds(configuration.idleTimeoutMs), fastRoutes: fastRoutes,
                                              serverName: "teabag-agent")
        let socketPath = configuration.socketPath
        services.append(Application(router: router(), server: server, configuration: .init(address: .unixDomainSocket(path: socketPath), serverName: "teabag-agent"),
                                    onServerRunning: { _ in
                                        // The data directory is 0700 already; the socket itself is the user's alone too.
                                        chmod(socketPath, 0o600)
                                        if announce { Readiness.announce("teabag agent listening on unix:\(socketPath)") }
                                    }, logger: logger))
        let tcpAddress = BoundAddress()
        if let port = configuration.port {
            services.append(Application(router: router(), server: server, configuration: .init(address: .hostname(configuration.host, port: port), serverName: "teabag-agent"),
                                        onServerRunning: { channel in
                                            tcpAddress.set(channel)
                                            if announce, let url = tcpAddress.url { Readiness.announce("teabag agent listening on \(url)") }
                                        }, logger: logger))
        }
        return AgentServer(client: client, plugins: plugins, metrics: metrics, configuration: configuration,
                           services: services, tcpAddress: tcpAddress, routes: router().routes.map(\.description), dashboard: dashboard)
    }
}

/// Starts the client (retrying while the table is unreachable: what the
/// storage holds is served meanwhile) and closes it on shutdown, which
/// writes the oplog cache.
struct ClientService: Service {
    let client: TeaBagClient
    let logger: Logger

    func run() async throws {
        var delay: Duration = .milliseconds(200)
        while !Task.isCancelled {
            do {
                try await client.start()
                break
            } catch let error as TeaBagError where error.isCredentialFailure {
                logger.error("the table refuses the agent's credentials; local reads still work, writes and sync do not", metadata: ["error": "\(error)"])
                break
            } catch {
                logger.warning("cannot read the mount table yet; retrying", metadata: ["error": "\(error)", "in": "\(delay)"])
                let wait = delay
                do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) } } catch { break }
                delay = min(delay * 2, .seconds(10))
            }
        }
        try? await gracefulShutdown()
        await client.close()
    }
}

/// The agent's own series on /metrics (issue 6): outbox depth per
/// store, stream connections, refused writes, prunes.
enum AgentGauges {
    static func update(_ metrics: ServerMetrics, client: TeaBagClient) async {
        let status = await client.status()
        var connected = 0
        for channel in status.channels {
            for store in channel.stores {
                metrics.gauge("teabag_agent_outbox_ops", labels: [("channel", channel.name), ("store", store.storeID)]).set(Double(store.outbox))
                if store.connected { connected += 1 }
            }
        }
        metrics.gauge("teabag_agent_stream_connections").set(Double(connected))
        metrics.gauge("teabag_agent_refused_writes").set(Double(status.failedWriteCount))
        metrics.gauge("teabag_agent_prunes").set(Double(status.prunes))
    }
}
