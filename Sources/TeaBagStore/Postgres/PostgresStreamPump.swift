/// Streams across the processes of one store on PostgreSQL: every commit
/// that accepted ops sends `NOTIFY teabag_store, '<user> <first id> <last id>…'`
/// with the ops' stream entries when they fit (inside the transaction, so
/// only if it commits, and in commit order); each process LISTENs, and for
/// a user with listeners or poll registrations here publishes them to its
/// own `StreamHub` — its own commits included, so that every process
/// delivers one order, the commit order, whichever process accepted an op.
/// A commit too large for a notification, or one after a gap, is read from
/// the log (ops above the last id published, in id order).
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
import TeaBagCore
import TeaBagPostgres

final class PostgresStreamPump: Service, Sendable {
    static let channel = "teabag_store"
    /// PostgreSQL refuses payloads of 8,000 bytes or more; past this a commit's ops are read from the log instead.
    static let maxPayload = 7_900

    /// `<user> <first id> <last id>`, then `\n<id> <entry>` for each op while they fit.
    static func payload(user: Int64, accepted: [AcceptedOp]) -> String {
        let header = "\(user) \(accepted.first!.id) \(accepted.last!.id)"
        var bytes = Array(header.utf8)
        for op in accepted {
            let line = Array("\n\(op.id) ".utf8) + op.entryText
            guard bytes.count + line.count <= maxPayload else { return header }
            bytes += line
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func userChanged(_ user: Int64) -> String { "u \(user)" }

    private let storage: PostgresStoreStorage
    private let hub: StreamHub
    private let forgetUser: @Sendable (Int64) -> Void
    private let logger: Logger
    /// Per watched user: the last id published here (by the LISTEN loop or a local commit).
    private let published = Mutex<[Int64: Int64]>([:])
    /// Whether LISTEN is established: before it, a live listener here misses
    /// what other instances commit (it resumes with Last-Event-ID like after any cut).
    let isListening = Atomic<Bool>(false)

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
                            self.isListening.store(true, ordering: .releasing)
                            defer { self.isListening.store(false, ordering: .releasing) }
                            // Commits missed while not listening: read them for every watched user.
                            for user in self.published.withLock({ Array($0.keys) }) { try await self.readLog(user, upTo: nil) }
                            for try await notification in notifications { try await self.received(notification.payload) }
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

    /// One notification, in commit order: its ops published from the
    /// payload when they follow what was published (the common case: no
    /// read at all, and ops a later base pruned still stream, as in SQLite),
    /// else read from the log.
    /// This process's own commit, published before its ack when it follows
    /// what was published without a gap (no other process's commit can be
    /// missing between); otherwise its notification brings it, in order.
    func publishLocal(_ accepted: [AcceptedOp]) {
        guard let user = accepted.first?.user, let first = accepted.first?.id, let last = accepted.last?.id, hub.isWatched(user) else { return }
        published.withLock { published in
            let after = published[user] ?? first - 1
            guard after == first - 1 else { return }
            // Under the lock: the hub gets each user's ops in id order, whoever publishes them.
            hub.publish(accepted)
            published[user] = last
        }
    }

    private func received(_ payload: String) async throws {
        var lines = payload.split(separator: "\n", omittingEmptySubsequences: false)[...]
        let header = lines.popFirst()?.split(separator: " ") ?? []
        if header.count == 2, header[0] == "u", let user = Int64(header[1]) {
            forgetUser(user)
            return
        }
        guard header.count == 3, let user = Int64(header[0]), let first = Int64(header[1]), let last = Int64(header[2]) else { return }
        guard hub.isWatched(user) else {
            _ = published.withLock { $0.removeValue(forKey: user) }
            return
        }
        let ops = lines.isEmpty ? nil : Self.decode(lines, user: user)
        let needsLog = published.withLock { published -> Bool in
            // First sight of this user since it was watched: its live ops start at this commit.
            let after = published[user] ?? first - 1
            guard after < last else { return false }
            guard after >= first - 1, let ops else {
                published[user] = after
                return true
            }
            let fresh = ops.filter { $0.id > after }
            if !fresh.isEmpty { hub.publish(fresh) }
            published[user] = last
            return false
        }
        if needsLog { try await readLog(user, upTo: last) }
    }

    /// The user's committed ops above what was published, from the log.
    private func readLog(_ user: Int64, upTo last: Int64?) async throws {
        guard hub.isWatched(user) else {
            _ = published.withLock { $0.removeValue(forKey: user) }
            return
        }
        guard var after = published.withLock({ $0[user] }) else { return }
        while true {
            let ops = try await storage.page(user: user, after: after)
            after = published.withLock { published -> Int64 in
                let current = published[user] ?? after
                let fresh = ops.filter { $0.id > current }
                guard let newest = fresh.last else { return current }
                hub.publish(fresh)
                published[user] = newest.id
                return newest.id
            }
            if ops.count < StreamHistory.pageSize { break }
        }
        if let last { published.withLock { if ($0[user] ?? 0) < last { $0[user] = last } } }
    }

    private static func decode(_ lines: ArraySlice<Substring>, user: Int64) -> [AcceptedOp]? {
        var ops: [AcceptedOp] = []
        for line in lines {
            guard let space = line.firstIndex(of: " "), let id = Int64(line[..<space]) else { return nil }
            let text = Array(line[line.index(after: space)...].utf8)
            guard let entry = try? JSON.parse(text, maxDepth: 512), let type = entry["type"]?.stringValue, let path = entry["path"]?.stringValue,
                  let body = entry["op"], let op = try? Op(json: body) else { return nil }
            ops.append(AcceptedOp(user: user, id: id, type: type, path: path, op: op, entryText: text))
        }
        return ops
    }
}
