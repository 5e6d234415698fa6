/// Builds the table: configuration → database → service → routes → a
/// Hummingbird application with its background services. Building is apart
/// from running, so tests stand a table up in-process on port 0.
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import TeaBagCore
import TeaBagPostgres
import TeaBagServerKit

public struct TableServer: Sendable {
    public let application: Application<RouterResponder<ServerContext>>
    public let service: TableService
    public let address: BoundAddress
    public let metrics: ServerMetrics
    /// Where the generated key was written, when one was.
    public let generatedKeyPath: String?
    /// Every route the router serves, `METHOD /path/{param}` (docs/openapi/table.yaml describes each).
    public let routes: [String]

    /// - Parameters:
    ///   - configuration: the table's settings.
    ///   - logger: where the table logs (secrets are never logged).
    ///   - clock: milliseconds since 1970; tests may move time by hand.
    ///   - announce: print the readiness line once bound.
    public static func build(configuration: TableConfiguration, logger: Logger,
                             clock: @escaping @Sendable () -> Int64 = WallClock.milliseconds,
                             announce: Bool = false) throws -> TableServer {
        try configuration.validate()
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let (key, generatedKeyPath) = try KeyFile.resolve(configured: configuration.key, directory: configuration.dataDirectory, name: "table.key")
        let (storage, storageServices) = try openStorage(configuration, logger: logger)
        let service = TableService(storage: storage, tableKey: key, masterRounds: configuration.masterHashRounds, clock: clock, logger: logger)
        let metrics = ServerMetrics(role: "table")
        let address = BoundAddress()
        let liveSessions = metrics.gauge("teabag_table_live_sessions")

        let router = Router(context: ServerContext.self)
        router.add(middleware: ObservedRequests(metrics: metrics))
        router.add(middleware: FailureLimit(FailureLimiter(configuration.authFailures, clock: clock)))
        router.addOperationalRoutes(metrics: metrics)
        let publicURL = configuration.publicURL
        TableRoutes(
            service: service,
            enroller: StoreEnroller(client: OutboundHTTP.client, timeout: .milliseconds(Int64(configuration.confirmTimeoutMs))),
            adminKey: key,
            limits: BodyLimits(maxBytes: configuration.bodyLimit),
            publicURL: { publicURL ?? ((address.url ?? "http://127.0.0.1") + "/") }
        ).register(on: router)

        let flusher = PeriodicTask(every: .seconds(1)) {
            do {
                liveSessions.set(Double(try await service.flush()))
            } catch {
                logger.error("could not persist session refreshes: \(error)")
            }
        }
        let application = Application(
            router: router,
            server: .teabag(idleTimeout: .milliseconds(configuration.idleTimeoutMs), fastRoutes: TableFastRoutes(
                service: service,
                storeCheck: .init(metrics, route: "/user/{user_id}/table/check/{store_token}", method: "GET"),
                sessionCheck: .init(metrics, route: "/user/{user_id}/session/check/{session_token}", method: "GET")), serverName: "teabag-table"),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "teabag-table"),
            services: storageServices + [flusher],
            onServerRunning: { channel in
                address.set(channel)
                if announce, let url = address.url { Readiness.announce("teabag table listening on \(url)") }
            },
            logger: logger
        )
        return TableServer(application: application, service: service, address: address, metrics: metrics,
                           generatedKeyPath: generatedKeyPath, routes: router.routes.map(\.description))
    }

    /// `table.database` unset: the SQLite file in the data directory;
    /// `postgresql://…`: that database, with its pool run as a service.
    static func openStorage(_ configuration: TableConfiguration, logger: Logger) throws -> (any TableStorage, [any Service]) {
        guard let text = configuration.database else {
            let path = (configuration.dataDirectory as NSString).appendingPathComponent("table.sqlite")
            return (try SQLiteTableStorage(database: TableDatabase(path: path, durability: .full)), [])
        }
        let url = try PostgresURL.parse(text).get()
        logger.info("table state in PostgreSQL at \(url.redacted)")
        let storage = PostgresTableStorage(url: url, connections: configuration.databaseConnections, logger: logger,
                                           patience: .milliseconds(configuration.databaseTimeoutMs))
        return (storage, [storage])
    }
}
