/// Streams across the processes of one store on PostgreSQL: every commit
/// that accepted ops sends `NOTIFY teabag_store, '<user> <first id> <last id>'`
/// (inside the transaction, so only if it commits, and in commit order);
/// each process LISTENs, and for a user with listeners or poll
/// registrations here reads that user's committed ops above the last id it
/// published, in id order, and publishes them to its own `StreamHub` — its
/// own commits included, so that every process delivers one order, the
/// commit order, whichever process accepted an op.
///
/// A user's ids are handed out under its row lock (see `PostgresMerge`), so
/// "ids above the last published" never skips an op that commits late.
/// When the LISTEN connection drops, ops committed meanwhile are read on
/// reconnection for every watched user (nothing is missed, only late).
/// `'u <user>'` notifies a changed user (an enrollment), which each process
/// forgets from its cache.
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization
import TeaBagPostgres

final class PostgresStreamPump: Service, Sendable {
    static let channel = "teabag_store"

    static func payload(user: Int64, first: Int64, last: Int64) -> String { "\(user) \(first) \(last)" }
    static func userChanged(_ user: Int64) -> String { "u \(user)" }

    private let storage: PostgresStoreStorage
    private let hub: StreamHub
    private let forgetUser: @Sendable (Int64) -> Void
    private let logger: Logger
    /// Per watched user: the last id published here, and whether a read is running (and another needed after it).
    private let users = Mutex<[Int64: Cursor]>([:])

    struct Cursor {
        var published: Int64
        var reading = false
        var again = false
    }

    init(storage: PostgresStoreStorage, hub: StreamHub, logger: Logger, forgetUser: @escaping @Sendable (Int64) -> Void) {
        self.storage = storage
        self.hub = hub
        self.logger = logger
        self.forgetUser = forgetUser
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await storage.database.migrated()
                try await cancelWhenGracefulShutdown {
                    try await self.storage.database.client.withConnection { connection in
                        try await connection.listen(on: Self.channel) { notifications in
                            // Commits missed while not listening: read them for every watched user.
                            self.catchUpAll()
                            for try await notification in notifications { self.received(notification.payload) }
                        }
                    }
                }
            } catch {
                if Task.isShuttingDownGracefully || Task.isCancelled { return }
                logger.warning("store streams: LISTEN on PostgreSQL failed (\(PostgresServerDatabase.describe(error))); retrying")
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            }
        }
    }

    private func received(_ payload: String) {
        let parts = payload.split(separator: " ")
        if parts.count == 2, parts[0] == "u", let user = Int64(parts[1]) {
            forgetUser(user)
            return
        }
        guard parts.count == 3, let user = Int64(parts[0]), let first = Int64(parts[1]), hub.isWatched(user) else {
            if parts.count == 3, let user = Int64(parts[0]) { _ = users.withLock { $0.removeValue(forKey: user) } }
            return
        }
        catchUp(user, firstNew: first)
    }

    private func catchUpAll() {
        let watched = users.withLock { Array($0.keys) }
        for user in watched where hub.isWatched(user) { catchUp(user, firstNew: nil) }
    }

    /// Reads and publishes the user's ops above the cursor; one read per user at a time.
    private func catchUp(_ user: Int64, firstNew: Int64?) {
        let start = users.withLock { users -> Bool in
            if users[user] == nil {
                // First sight of this user since it was watched: its stream starts at this commit.
                guard let firstNew else { return false }
                users[user] = Cursor(published: firstNew - 1)
            }
            if users[user]!.reading {
                users[user]!.again = true
                return false
            }
            users[user]!.reading = true
            return true
        }
        guard start else { return }
        Task {
            while true {
                let after = users.withLock { $0[user]?.published ?? 0 }
                var more = false
                do {
                    let ops = try await storage.page(user: user, after: after)
                    if let last = ops.last {
                        hub.publish(ops)
                        users.withLock { $0[user]?.published = last.id }
                    }
                    more = ops.count == StreamHistory.pageSize
                } catch {
                    logger.warning("store streams: reading user \(user)'s new ops failed (\(PostgresServerDatabase.describe(error))); retrying")
                    try? await Task.sleep(for: .milliseconds(200))
                    more = true
                }
                let again = users.withLock { users -> Bool in
                    guard users[user] != nil else { return false }
                    if more || users[user]!.again {
                        users[user]!.again = false
                        return true
                    }
                    users[user]!.reading = false
                    return false
                }
                if !again { return }
                if !hub.isWatched(user) {
                    users.withLock { _ = $0.removeValue(forKey: user) }
                    return
                }
            }
        }
    }
}
