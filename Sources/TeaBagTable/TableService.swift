/// The table's logic, apart from HTTP and storage: users and their master,
/// sessions with a sliding timeout, the mount table, and the checks stores
/// ask for. What is kept where, and for how long, is the storage's business
/// (`TableStorage`); the caches here stay right with any number of table
/// instances over one database, since each is keyed by what it was derived
/// from and every hit is checked against the storage's live session.
import Crypto
import Foundation
import Logging
import Synchronization
import TeaBagCore
import TeaBagServerKit

public final class TableService: Sendable {
    public static let minTimeout: Int64 = 1_000
    public static let maxTimeout: Int64 = 31 * 24 * 60 * 60 * 1_000

    let storage: any TableStorage
    let signer: TokenSigner
    let masterRounds: Int
    let clock: @Sendable () -> Int64
    let logger: Logger
    private let state = Mutex(State())
    /// Keys the cache of verified masters, so the slow hash runs once per master, not per request.
    private let verifiedKeyBytes: [UInt8] = (0..<32).map { _ in UInt8.random(in: 0...255) }

    struct State {
        /// user → HMAC of (user, master hash, master) last verified. A new
        /// master (on any instance) changes the hash, so an old entry no
        /// longer matches.
        var verifiedMasters: [Int64: String] = [:]
        /// Token texts whose signature was verified → the session signature
        /// they derive from. A token's HMACs never change, and a session that
        /// is revoked, expired or orphaned by a new master is gone from the
        /// storage, so a hit here still needs the live session.
        var verifiedTokens: [String: String] = [:]
        /// user → the latest creation time this process gave a session of
        /// theirs, so a burst of sessions in one millisecond takes the next
        /// ones in turn instead of colliding in the storage.
        var lastCreated: [Int64: Int64] = [:]
    }

    /// A creation time for a new session of `user`: now, or just after the
    /// last one this process gave (`after`: one the storage already holds).
    private func creationTime(user: Int64, after taken: Int64? = nil) -> Int64 {
        let now = clock()
        return state.withLock { s in
            let created = max(now, (s.lastCreated[user] ?? .min) &+ 1, (taken ?? .min) &+ 1)
            if s.lastCreated.count >= 10_000 { s.lastCreated = s.lastCreated.filter { $0.value >= now } }
            s.lastCreated[user] = created
            return created
        }
    }

    /// The session signature a token was already verified to derive from.
    private func verified(_ text: String) -> String? { state.withLock { $0.verifiedTokens[text] } }

    private func remember(_ text: String, signature: String) {
        state.withLock { s in
            if s.verifiedTokens.count >= 100_000 { s.verifiedTokens.removeAll(keepingCapacity: true) }
            s.verifiedTokens[text] = signature
        }
    }

    init(storage: any TableStorage, tableKey: String, masterRounds: Int, clock: @escaping @Sendable () -> Int64, logger: Logger) {
        self.storage = storage
        self.signer = TokenSigner(tableKey: tableKey)
        self.masterRounds = masterRounds
        self.clock = clock
        self.logger = logger
    }

    // MARK: users

    /// Creates the user if missing, sets its master and revokes all its sessions.
    public func setMaster(user: Int64, master: String) async throws {
        guard !master.isEmpty else { throw APIError(.adminInvalidMaster, "the master must not be empty") }
        let hash = try MasterHash.make(master: master, rounds: masterRounds)
        try await storage.setMaster(user: user, hash: hash, now: clock())
        state.withLock { $0.verifiedMasters[user] = nil }
    }

    /// Checks a master for a user; throws the protocol's error when wrong.
    public func authenticate(user: Int64, master: String?) async throws {
        guard let master else { throw APIError(.tableMissingCredentials, "give the master (?master= or HTTP Basic user-id:master)") }
        let hash = try await masterHash(user: user)
        let digest = Digest.hex(HMAC<SHA256>.authenticationCode(for: Array("\(user)\u{0}\(hash)\u{0}\(master)".utf8),
                                                                using: SymmetricKey(data: verifiedKeyBytes)))
        if let known = state.withLock({ $0.verifiedMasters[user] }), ConstantTime.equals(known, digest) {
            return
        }
        guard MasterHash.verify(master: master, stored: hash) else {
            // The original's name for a wrong master; the status says which it is.
            throw APIError(.utilityWrongMaster, "wrong master for user \(user)")
        }
        state.withLock { $0.verifiedMasters[user] = digest }
    }

    private func masterHash(user: Int64) async throws -> String {
        guard let hash = try await storage.masterHash(user: user) else {
            throw APIError(.utilityUserNotFound, "no user \(user) on this table")
        }
        return hash
    }

    // MARK: sessions

    public struct Session: Sendable, Equatable {
        public let token: String
        public let timeout: Int64
        public let description: String
        public let created: Int64
        public let lastCheck: Int64

        public var json: JSON {
            ["timeout": .number(Double(timeout)), "description": .string(description), "session_token": .string(token),
             "created_time": .number(Double(created)), "last_check": .number(Double(lastCheck))]
        }
    }

    /// Each call gets a session of its own: two of one user in one
    /// millisecond with one timeout would derive the same token, so each
    /// session of a user gets its own creation time — the next free
    /// millisecond. This process hands them out in turn; the storage's
    /// primary key settles a clash with another instance, and the loser
    /// moves past it.
    public func newSession(user: Int64, timeout: Int64, description: String) async throws -> Session {
        guard (Self.minTimeout...Self.maxTimeout).contains(timeout) else {
            throw APIError(.sessionInvalidTimeout, "timeout is in ms, from \(Self.minTimeout) to \(Self.maxTimeout) (31 days)")
        }
        let hash = try await masterHash(user: user)
        var created = creationTime(user: user)
        while true {
            let token = signer.session(user: user, created: created, timeout: timeout, masterHash: hash)
            let row = SessionRow(signature: token.signature, user: user, created: created, timeout: timeout, description: description, lastCheck: created)
            if try await storage.insert(session: row) {
                return Session(token: token.text, timeout: timeout, description: description, created: created, lastCheck: created)
            }
            created = creationTime(user: user, after: created)
        }
    }

    /// The live sessions of a user, oldest first.
    public func sessions(user: Int64) async throws -> [Session] {
        try await storage.liveSessions(user: user, now: clock()).map { row in
            Session(token: SessionToken(user: row.user, created: row.created, timeout: row.timeout, signature: row.signature).text,
                    timeout: row.timeout, description: row.description, created: row.created, lastCheck: row.lastCheck)
        }
    }

    /// Checks a session token of `user` and refreshes it (sliding timeout).
    @discardableResult
    public func checkSession(user: Int64, token text: String) async throws -> SessionToken {
        let invalid = APIError(.utilityInvalidSessionToken, "the session token is not valid (revoked, expired, or not this user's)")
        guard let token = SessionToken(parsing: text), token.user == user else { throw invalid }
        if verified(text) == token.signature {
            guard try await refresh(signature: token.signature) else { throw invalid }
            return token
        }
        let hash = try await masterHash(user: user)
        guard signer.verify(token, masterHash: hash), try await refresh(signature: token.signature) else { throw invalid }
        remember(text, signature: token.signature)
        return token
    }

    /// Revokes a session, given the token itself.
    public func revoke(user: Int64, token text: String) async throws {
        let invalid = APIError(.utilityInvalidSessionToken, "the session token is not valid for user \(user)")
        guard let token = SessionToken(parsing: text), token.user == user else { throw invalid }
        guard let hash = try await storage.masterHash(user: user), signer.verify(token, masterHash: hash) else { throw invalid }
        try await storage.deleteSession(signature: token.signature)
    }

    /// Checks a store token: it must derive from a live session of `user`
    /// (which it refreshes) and name a store enrolled for that user.
    public func checkStoreToken(user: Int64, token text: String) async throws {
        let invalid = APIError(.utilityInvalidStoreToken, "the store token is not valid (its session was revoked or expired, or the store is not enrolled)")
        guard let token = StoreToken(parsing: text), token.user == user else { throw invalid }
        if let signature = verified(text) {
            guard try await storage.enrolledStoreIDs(user: user).contains(token.storeID), try await refresh(signature: signature) else { throw invalid }
            return
        }
        let hash = try await masterHash(user: user)
        guard let session = signer.session(of: token, masterHash: hash), try await storage.enrolledStoreIDs(user: user).contains(token.storeID),
              try await refresh(signature: session.signature) else { throw invalid }
        remember(text, signature: session.signature)
    }

    // MARK: on the event loop (TableFastRoutes)

    /// `checkStoreToken`'s yes, when memory alone can give it: a token
    /// verified before, a storage that keeps its sessions and mount tables
    /// in memory (SQLite), the store enrolled, the session live — which it
    /// refreshes, as the check does. False means "ask `checkStoreToken`",
    /// never "refused".
    func checkStoreTokenInMemory(user: Int64, token text: String) -> Bool {
        guard let memory = storage as? any InMemoryTableChecks, let signature = verified(text),
              let token = StoreToken(parsing: text), token.user == user,
              memory.enrolledStoreIDsInMemory(user: user)?.contains(token.storeID) == true else { return false }
        return memory.refreshInMemory(signature: signature, now: clock())
    }

    /// `checkSession`'s yes from memory alone (see `checkStoreTokenInMemory`).
    func checkSessionInMemory(user: Int64, token text: String) -> Bool {
        guard let memory = storage as? any InMemoryTableChecks, let token = SessionToken(parsing: text), token.user == user,
              verified(text) == token.signature else { return false }
        return memory.refreshInMemory(signature: token.signature, now: clock())
    }

    /// Whether the session is live now; if so its last check becomes now.
    private func refresh(signature: String) async throws -> Bool {
        try await storage.refresh(signature: signature, now: clock())
    }

    /// Writes what the storage keeps behind and forgets expired sessions
    /// (called about once a second); returns the number of live sessions.
    @discardableResult
    public func flush() async throws -> Int {
        try await storage.maintain(now: clock())
    }

    // MARK: mount table

    /// `{channel: {store_id: {store_id, url, code, created_time[, store_token]}}}`.
    public func table(user: Int64, session: SessionToken?) async throws -> JSON {
        var channels: [String: JSON] = [:]
        for record in try await storage.stores(user: user) {
            var entry = channels[record.channel]?.objectValue ?? [:]
            entry[record.storeID] = storeJSON(record, session: session)
            channels[record.channel] = .object(entry)
        }
        return .object(channels)
    }

    public func channel(user: Int64, name: String, session: SessionToken?) async throws -> JSON {
        let records = try await storage.stores(user: user).filter { Bytewise.equal($0.channel, name) }
        guard !records.isEmpty else { throw APIError(.tableUnknownChannel, "user \(user) has no channel \(name)") }
        return .object(Dictionary(uniqueKeysWithValues: records.map { ($0.storeID, storeJSON($0, session: session)) }))
    }

    func storeJSON(_ record: StoreRecord, session: SessionToken?) -> JSON {
        var object: [String: JSON] = ["store_id": .string(record.storeID), "url": .string(record.url), "code": .string(record.code),
                                      "created_time": .number(Double(record.created))]
        if let session { object["store_token"] = .string(session.storeToken(storeID: record.storeID).text) }
        return .object(object)
    }

    /// Refuses a channel name that Swift's `String` would take for one the
    /// user has, spelled with other code points ("\u{E4}" and "a\u{308}"):
    /// the storage keeps them apart (they are bytes to it and to other
    /// parties), but a mount table is a JSON object, whose keys this server
    /// and the Swift library compare by canonical equivalence — the two
    /// channels would merge into one in every answer. Checked before the
    /// store is asked to confirm, so a refusal changes nothing.
    public func checkChannelSpelling(user: Int64, channel: String) async throws {
        let clash = try await storage.stores(user: user).first { $0.channel == channel && !Bytewise.equal($0.channel, channel) }
        if let clash {
            throw APIError(.tableChannelSpelling,
                           "the user has the channel \"\(clash.channel)\", which is this name with other Unicode code points; mount the store under that exact spelling")
        }
    }

    func record(user: Int64, store: StoreRecord) async throws {
        try await storage.upsert(user: user, store: store)
    }

    public func removeStore(user: Int64, channel: String, storeID: String) async throws {
        try await storage.deleteStore(user: user, channel: channel, storeID: storeID)
    }

    public func removeChannel(user: Int64, channel: String) async throws {
        try await storage.deleteChannel(user: user, channel: channel)
    }

}
