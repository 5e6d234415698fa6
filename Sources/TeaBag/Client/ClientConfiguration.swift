import TeaBagCore

/// How a client reaches its table and where it keeps what must survive it.
public struct ClientConfiguration: Sendable {
    /// The table's public base, ending in `/`.
    public var tableURL: String
    public var user: Int64
    public var credential: Credential
    /// Node identity and outbox (and the oplog cache). In memory by default;
    /// give `SQLiteClientStorage` to survive restarts.
    public var storage: any ClientStorage
    public var policy = SyncPolicy()
    /// Channels to follow; nil follows every channel of the mount table.
    public var channels: [String]?
    /// How often the mount table is read again.
    public var tableRefresh: Duration = .seconds(60)
    /// How often changed oplogs are written to the storage's cache.
    public var cacheFlush: Duration = .milliseconds(200)
    public var requestTimeout: Duration = .seconds(10)

    public enum Credential: Sendable {
        /// A session made elsewhere (`teabag admin new-session`).
        case session(String)
        /// The user's master: the client opens its own session.
        case master(String, sessionTimeoutMs: Int64 = 30 * 24 * 3_600_000, description: String = "teabag client")
    }

    public init(tableURL: String, user: Int64, credential: Credential, storage: any ClientStorage = InMemoryClientStorage()) {
        self.tableURL = tableURL.hasSuffix("/") ? tableURL : tableURL + "/"
        self.user = user
        self.credential = credential
        self.storage = storage
    }
}

/// A value change seen by a client, local or remote.
public struct ValueUpdate: Sendable, Equatable {
    public let channel: String
    public let type: String
    public let path: String
    public let value: JSON
    public let sha: String
    public let date: Int64

    public var json: JSON {
        ["channel": .string(channel), "type": .string(type), "path": .string(path), "value": value, "sha": .string(sha)]
    }
}

/// A write a store refused for good: it is gone from the local oplog.
public struct WriteFailure: Sendable, Equatable {
    public let channel: String
    public let type: String
    public let path: String
    public let sha: String
    public let error: TeaBagError
}
