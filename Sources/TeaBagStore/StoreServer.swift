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
import TeaBagPostgres
import TeaBagConfig
import TeaBagCore
import TeaBagServerKit
import Synchronization
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
    /// Whether ops committed by other processes of this store reach its streams yet
    /// (PostgreSQL: its LISTEN is established; SQLite: always).
    public let streamsReady: @Sendable () -> Bool

    public static func build(configuration: StoreConfiguration, logger: Logger,
                             clock: @escaping @Sendable () -> Int64 = WallClock.milliseconds,
                             announce: Bool = false) throws -> StoreServer {
        try configuration.validate()
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let (key, generatedKeyPath) = try KeyFile.resolve(configured: configuration.key, directory: configuration.dataDirectory, name: "store.key")
        let metrics = ServerMetrics(role: "store")
        let counters = StoreCounters(metrics)
        let plugins = PluginHost(directories: configuration.pluginDirectories, declared: configuration.declaredReducers,
                                 logger: logger, metricsFactory: metrics.factory)
        if let error = plugins.declarationErrors.first {
            // The message already names the file and the key.
            throw ConfigError(origin: "", key: "", problem: error.message)
        }
        let gate = FoldGate()
        let opened = try openStorage(configuration, logger: logger, clock: clock, plugins: plugins, gate: gate, counters: counters)
        let hub = opened.hub
        let service = StoreService(storage: opened.storage, plugins: plugins, gate: gate, tokens: TokenChecker(client: OutboundHTTP.client, clock: clock),
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

        let services: [any Service] = opened.services(service) + [
            PluginWatcher(plugins: plugins, interval: .milliseconds(configuration.pluginPollMs), logger: logger),
            PeriodicTask(every: .seconds(configuration.heartbeatSeconds)) { hub.heartbeat() },
            PeriodicTask(every: .seconds(10)) {
                hub.sweep()
                counters.listeners.set(Double(hub.listenerCount))
                counters.registrations.set(Double(hub.registrationCount))
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
                           generatedKeyPath: generatedKeyPath, adminKey: key, routes: router.routes.map(\.description),
                           streamsReady: opened.streamsReady)
    }
}

/// What `store.database` chose: the storage, the hub reading from it, and
/// the services that run it (given the service, for what reaches back to it).
struct OpenedStorage {
    let storage: any StoreStorage
    let hub: StreamHub
    let services: (StoreService) -> [any Service]
    /// Whether ops committed by other processes reach this one's streams yet (always, on SQLite).
    var streamsReady: @Sendable () -> Bool = { true }
}

extension StoreServer {
    /// `store.database` unset: the SQLite file in the data directory and its
    /// writer thread; `postgresql://…`: that database, its pool and its LISTEN.
    static func openStorage(_ configuration: StoreConfiguration, logger: Logger, clock: @escaping @Sendable () -> Int64,
                            plugins: PluginHost, gate: FoldGate, counters: StoreCounters) throws -> OpenedStorage {
        if let text = configuration.database {
            let url = try PostgresURL.parse(text).get()
            logger.info("store oplogs in PostgreSQL at \(url.redacted)")
            let storage = PostgresStoreStorage(url: url, connections: configuration.databaseConnections,
                                               patience: .milliseconds(configuration.databaseTimeoutMs), logger: logger,
                                               plugins: plugins, gate: gate, clock: clock, counters: counters)
            let hub = StreamHub(source: storage)
            let forget = Mutex<StoreService?>(nil)
            let pump = PostgresStreamPump(storage: storage, hub: hub, logger: logger, forgetUser: { user in forget.withLock { $0 }?.forgetUser(user) })
            storage.onCommit.withLock { $0 = { pump.publishLocal($0) } }
            return OpenedStorage(storage: storage, hub: hub, services: { service in
                forget.withLock { $0 = service }
                return [storage, pump, StreamsService(hub: hub)]
            }, streamsReady: { pump.isListening.load(ordering: .acquiring) })
        }
        let databasePath = (configuration.dataDirectory as NSString).appendingPathComponent("store.sqlite")
        let pool = try ServerDatabase.open(path: databasePath,
                                           durability: configuration.durability, migrator: StoreSchema.migrator)
        let store = try WriterStore(path: databasePath,
                                    durability: configuration.durability, plugins: plugins, gate: gate, logger: logger, nowMs: clock())
        let hub = StreamHub(source: SQLiteStreamSource(pool: pool, ids: store.ids))
        let writer = StoreWriter(store: store, logger: logger,
                                 onCommit: { hub.publish($0) },
                                 onCommitTiming: { elapsed, requests in
                                     counters.commit.record(elapsed)
                                     counters.commitBatch.record(Double(requests))
                                 })
        return OpenedStorage(storage: SQLiteStoreStorage(pool: pool, writer: writer), hub: hub) { _ in
            [
                WriterService(writer: writer, hub: hub),
                // The writer never checkpoints on commit (wal_autocheckpoint = 0):
                // the WAL is copied back here, off its critical path, and reset
                // by the writer between groups once it is large (WALCheckpoint).
                PeriodicTask(every: .milliseconds(250)) {
                    do { try WALCheckpoint.run(pool) } catch {
                        logger.warning("WAL checkpoint failed: \(error)")
                    }
                },
            ]
        }
    }
}

/// Ends open streams on graceful shutdown (PostgreSQL: there is no writer thread to do it).
struct StreamsService: Service {
    let hub: StreamHub
    func run() async throws {
        try? await gracefulShutdown()
        hub.finishAll()
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
