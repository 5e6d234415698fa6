/// Builds the store: configuration → database → plugins → writer, streams,
/// token checks → routes → a Hummingbird application with its background
/// services (the writer, the plugin watcher, SIGHUP reload, heartbeats).
import AsyncHTTPClient
import Foundation
import GRDB
import Hummingbird
import Logging
import ServiceLifecycle
import TeaBagPlugins
import TeaBagConfig
import TeaBagCore
import TeaBagServerKit
import UnixSignals

public struct StoreServer: Sendable {
    public let application: Application<RouterResponder<ServerContext>>
    public let service: StoreService
    let hub: StreamHub
    public let plugins: PluginHost
    public let address: BoundAddress
    public let metrics: ServerMetrics
    public let generatedKeyPath: String?
    public let adminKey: String
    /// Every route the router serves, `METHOD /path/{param}` (docs/openapi/store.yaml describes each).
    public let routes: [String]

    public static func build(configuration: StoreConfiguration, logger: Logger,
                             clock: @escaping @Sendable () -> Int64 = WallClock.milliseconds,
                             announce: Bool = false) throws -> StoreServer {
        try configuration.validate()
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let (key, generatedKeyPath) = try KeyFile.resolve(configured: configuration.key, directory: configuration.dataDirectory, name: "store.key")
        let databasePath = (configuration.dataDirectory as NSString).appendingPathComponent("store.sqlite")
        let pool = try ServerDatabase.open(path: databasePath,
                                           durability: configuration.durability, migrator: StoreSchema.migrator)
        let metrics = ServerMetrics(role: "store")
        let counters = StoreCounters(metrics)
        let plugins = PluginHost(directories: configuration.pluginDirectories, declared: configuration.declaredReducers,
                                 logger: logger, metricsFactory: metrics.factory)
        if let error = plugins.declarationErrors.first {
            // The message already names the file and the key.
            throw ConfigError(origin: "", key: "", problem: error.message)
        }
        let gate = FoldGate()
        let store = try WriterStore(path: databasePath,
                                    durability: configuration.durability, plugins: plugins, gate: gate, logger: logger, nowMs: clock())
        let hub = StreamHub(reader: pool, ids: store.ids)
        let writer = StoreWriter(store: store, logger: logger,
                                 onCommit: { hub.publish($0) },
                                 onCommitTiming: { elapsed, requests in
                                     counters.commit.record(elapsed)
                                     counters.commitBatch.record(Double(requests))
                                 })
        let tokens = TokenChecker(client: OutboundHTTP.client, clock: clock)
        let service = StoreService(pool: pool, writer: writer, plugins: plugins, gate: gate, tokens: tokens,
                                   codes: EnrollmentCodes(storeKey: key), configuration: configuration, clock: clock, counters: counters)
        let limits = BodyLimits(maxBytes: configuration.bodyLimit)
        let fastRoutes = StoreFastRoutes(service: service, hub: hub, limits: limits, metrics: FastRouteMetrics(
            push: .init(metrics, route: "/user/{user_id}/oplog", method: "POST"),
            batch: .init(metrics, route: "/user/{user_id}/oplog/batch", method: "POST"),
            stream: .init(metrics, route: "/user/{user_id}/oplog/stream", method: "GET")))
        let address = BoundAddress()

        let router = Router(context: ServerContext.self)
        router.add(middleware: ObservedRequests(metrics: metrics))
        router.add(middleware: FailureLimit(FailureLimiter(configuration.authFailures, clock: clock)))
        router.addOperationalRoutes(metrics: metrics)
        StoreRoutes(service: service, hub: hub, adminKey: key, limits: limits,
                    longPollDelay: .milliseconds(configuration.longPollDelayMs)).register(on: router)

        let services: [any Service] = [
            WriterService(writer: writer, hub: hub),
            PluginWatcher(plugins: plugins, interval: .milliseconds(configuration.pluginPollMs), logger: logger),
            PeriodicTask(every: .seconds(configuration.heartbeatSeconds)) { hub.heartbeat() },
            PeriodicTask(every: .seconds(10)) {
                hub.sweep()
                counters.listeners.set(Double(hub.listenerCount))
                counters.registrations.set(Double(hub.registrationCount))
            },
            // The writer never checkpoints on commit (wal_autocheckpoint = 0):
            // the WAL is copied back here, off its critical path, and reset by
            // the writer between groups once it is large (WALCheckpoint).
            PeriodicTask(every: .milliseconds(250)) {
                do { try WALCheckpoint.run(pool) } catch {
                    logger.warning("WAL checkpoint failed: \(error)")
                }
            },
        ]
        let application = Application(
            router: router,
            server: .teabag(idleTimeout: .milliseconds(configuration.idleTimeoutMs), fastRoutes: fastRoutes, serverName: "teabag-store"),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "teabag-store"),
            services: services,
            onServerRunning: { channel in
                address.set(channel)
                if announce, let url = address.url { Readiness.announce("teabag store listening on \(url)") }
            },
            logger: logger
        )
        return StoreServer(application: application, service: service, hub: hub, plugins: plugins, address: address, metrics: metrics,
                           generatedKeyPath: generatedKeyPath, adminKey: key, routes: router.routes.map(\.description))
    }
}

/// Runs the writer thread until shutdown: open streams end, queued writes
/// finish (and are answered), then the thread stops.
struct WriterService: Service {
    let writer: StoreWriter
    let hub: StreamHub
    func run() async throws {
        writer.start()
        try? await gracefulShutdown()
        hub.finishAll()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            // stop() waits for the thread: not on a cooperative thread.
            Thread.detachNewThread {
                writer.stop()
                done.resume()
            }
        }
    }
}
