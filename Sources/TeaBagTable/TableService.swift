/// The table's logic, apart from HTTP: users and their master, sessions with
/// a sliding timeout, the mount table, and the checks stores ask for.
///
/// Users, sessions and enrolled store ids are mirrored in memory so that a
/// check (which every store's first sight of a token waits on) costs one
/// HMAC and a dictionary lookup. Every change is committed to SQLite before
/// it is answered; only the sliding `last_check` refresh is written behind,
/// at most once a second per session, by `flush()` — after a crash a session
/// may therefore expire up to a second early, never late.
import Crypto
import Foundation
import Logging
import Synchronization
import TeaBagCore
import TeaBagServerKit

public final class TableService: Sendable {
    public static let minTimeout: Int64 = 1_000
    public static let maxTimeout: Int64 = 31 * 24 * 60 * 60 * 1_000

    let database: TableDatabase
    let signer: TokenSigner
    let masterRounds: Int
    let clock: @Sendable () -> Int64
    let logger: Logger
    private let state: Mutex<State>
    /// Keys the cache of verified masters, so the slow hash runs once per master, not per request.
    private let verifiedKeyBytes: [UInt8] = (0..<32).map { _ in UInt8.random(in: 0...255) }

    struct State {
        var masterHashes: [Int64: String] = [:]
        var sessions: [String: SessionRow] = [:]
        var dirty: Set<String> = []
        var verifiedMasters: [Int64: String] = [:]
        var enrolled: [Int64: Set<String>] = [:]
        /// Token texts whose signature was verified → the session signature
        /// they derive from. A token's HMACs never change, and a session that
        /// is revoked, expired or orphaned by a new master is gone from
        /// `sessions`, so a hit here still needs the live session.
        var verifiedTokens: [String: String] = [:]
    }

    /// The session signature a token was already verified to derive from.
    private func verified(_ text: String) -> String? { state.withLock { $0.verifiedTokens[text] } }

    private func remember(_ text: String, signature: String) {
        state.withLock { s in
            if s.verifiedTokens.count >= 100_000 { s.verifiedTokens.removeAll(keepingCapacity: true) }
            s.verifiedTokens[text] = signature
        }
    }

    init(database: TableDatabase, tableKey: String, masterRounds: Int, clock: @escaping @Sendable () -> Int64, logger: Logger) throws {
        self.database = database
        self.signer = TokenSigner(tableKey: tableKey)
        self.masterRounds = masterRounds
        self.clock = clock
        self.logger = logger
        var state = State()
        for user in try database.users() { state.masterHashes[user.id] = user.masterHash }
        for session in try database.sessions() { state.sessions[session.signature] = session }
        self.state = Mutex(state)
    }

    // MARK: users

    /// Creates the user if missing, sets its master and revokes all its sessions.
    public func setMaster(user: Int64, master: String) throws {
        guard !master.isEmpty else { throw APIError.badRequest("AdminError:InvalidMaster", "the master must not be empty") }
        let hash = try MasterHash.make(master: master, rounds: masterRounds)
        try database.setMaster(user: user, hash: hash, now: clock())
        state.withLock { s in
            s.masterHashes[user] = hash
            s.verifiedMasters[user] = nil
            for (signature, session) in s.sessions where session.user == user {
                s.sessions[signature] = nil
                s.dirty.remove(signature)
            }
        }
    }

    /// Checks a master for a user; throws the protocol's error when wrong.
    public func authenticate(user: Int64, master: String?) throws {
        guard let master else { throw APIError.unauthorized("TableError:MissingCredentials", "give the master (?master= or HTTP Basic user-id:master)") }
        guard let hash = state.withLock({ $0.masterHashes[user] }) else {
            throw APIError.notFound("UtilityError:UserNotFound", "no user \(user) on this table")
        }
        let digest = Digest.hex(HMAC<SHA256>.authenticationCode(for: Array("\(user)\u{0}\(hash)\u{0}\(master)".utf8),
                                                                using: SymmetricKey(data: verifiedKeyBytes)))
        if let known = state.withLock({ $0.verifiedMasters[user] }), ConstantTime.equals(known, digest) {
            return
        }
        guard MasterHash.verify(master: master, stored: hash) else {
            // The original's name for a wrong master; the status says which it is.
            throw APIError.unauthorized("UtilityError:UserNotFound", "wrong master for user \(user)")
        }
        state.withLock { s in if s.masterHashes[user] == hash { s.verifiedMasters[user] = digest } }
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

    public func newSession(user: Int64, timeout: Int64, description: String) throws -> Session {
        guard (Self.minTimeout...Self.maxTimeout).contains(timeout) else {
            throw APIError.badRequest("SessionError:InvalidTimeout", "timeout is in ms, from \(Self.minTimeout) to \(Self.maxTimeout) (31 days)")
        }
        guard let hash = state.withLock({ $0.masterHashes[user] }) else {
            throw APIError.notFound("UtilityError:UserNotFound", "no user \(user) on this table")
        }
        var now = clock()
        // Two sessions created in one millisecond would share a token.
        while state.withLock({ s in s.sessions.values.contains { $0.user == user && $0.created == now && $0.timeout == timeout } }) { now += 1 }
        let token = signer.session(user: user, created: now, timeout: timeout, masterHash: hash)
        let row = SessionRow(signature: token.signature, user: user, created: now, timeout: timeout, description: description, lastCheck: now)
        try database.insert(session: row)
        state.withLock { $0.sessions[row.signature] = row }
        return Session(token: token.text, timeout: timeout, description: description, created: now, lastCheck: now)
    }

    /// The live sessions of a user, oldest first.
    public func sessions(user: Int64) -> [Session] {
        let now = clock()
        return state.withLock { s in
            s.sessions.values.filter { $0.user == user && now <= $0.lastCheck + $0.timeout }
        }
        .sorted { ($0.created, $0.signature) < ($1.created, $1.signature) }
        .map { row in
            Session(token: SessionToken(user: row.user, created: row.created, timeout: row.timeout, signature: row.signature).text,
                    timeout: row.timeout, description: row.description, created: row.created, lastCheck: row.lastCheck)
        }
    }

    /// Checks a session token of `user` and refreshes it (sliding timeout).
    @discardableResult
    public func checkSession(user: Int64, token text: String) throws -> SessionToken {
        let invalid = APIError.forbidden("UtilityError:InvalidSessionToken", "the session token is not valid (revoked, expired, or not this user's)")
        guard let token = SessionToken(parsing: text), token.user == user else { throw invalid }
        if verified(text) == token.signature {
            guard try refresh(signature: token.signature) else { throw invalid }
            return token
        }
        guard let hash = state.withLock({ $0.masterHashes[user] }) else {
            throw APIError.notFound("UtilityError:UserNotFound", "no user \(user) on this table")
        }
        guard signer.verify(token, masterHash: hash), try refresh(signature: token.signature) else { throw invalid }
        remember(text, signature: token.signature)
        return token
    }

    /// Revokes a session, given the token itself.
    public func revoke(user: Int64, token text: String) throws {
        guard let token = SessionToken(parsing: text), token.user == user,
              let hash = state.withLock({ $0.masterHashes[user] }), signer.verify(token, masterHash: hash) else {
            throw APIError.forbidden("UtilityError:InvalidSessionToken", "the session token is not valid for user \(user)")
        }
        try database.deleteSession(signature: token.signature)
        state.withLock { s in
            s.sessions[token.signature] = nil
            s.dirty.remove(token.signature)
        }
    }

    /// Checks a store token: it must derive from a live session of `user`
    /// (which it refreshes) and name a store enrolled for that user.
    public func checkStoreToken(user: Int64, token text: String) throws {
        let invalid = APIError.forbidden("UtilityError:InvalidStoreToken", "the store token is not valid (its session was revoked or expired, or the store is not enrolled)")
        guard let token = StoreToken(parsing: text), token.user == user else { throw invalid }
        if let signature = verified(text) {
            guard try enrolledStores(user: user).contains(token.storeID), try refresh(signature: signature) else { throw invalid }
            return
        }
        guard let hash = state.withLock({ $0.masterHashes[user] }) else {
            throw APIError.notFound("UtilityError:UserNotFound", "no user \(user) on this table")
        }
        guard let session = signer.session(of: token, masterHash: hash), try enrolledStores(user: user).contains(token.storeID),
              try refresh(signature: session.signature) else { throw invalid }
        remember(text, signature: session.signature)
    }

    /// Whether the session is live now; if so its last check becomes now.
    private func refresh(signature: String) throws -> Bool {
        let now = clock()
        return state.withLock { s in
            guard var session = s.sessions[signature] else { return false }
            guard now <= session.lastCheck + session.timeout else { return false }
            session.lastCheck = max(session.lastCheck, now)
            s.sessions[signature] = session
            s.dirty.insert(signature)
            return true
        }
    }

    /// Writes refreshed last checks and forgets expired sessions (called about once a second).
    public func flush() throws {
        let now = clock()
        let (refreshed, expired): ([(String, Int64)], [String]) = state.withLock { s in
            let refreshed = s.dirty.compactMap { signature in s.sessions[signature].map { (signature, $0.lastCheck) } }
            s.dirty.removeAll()
            let expired = s.sessions.values.filter { now > $0.lastCheck + $0.timeout }.map(\.signature)
            for signature in expired { s.sessions[signature] = nil }
            return (refreshed, expired)
        }
        try database.flush(lastChecks: refreshed.map { (signature: $0.0, lastCheck: $0.1) }, expired: expired)
    }

    public var liveSessionCount: Int {
        let now = clock()
        return state.withLock { s in s.sessions.values.filter { now <= $0.lastCheck + $0.timeout }.count }
    }

    // MARK: mount table

    func enrolledStores(user: Int64) throws -> Set<String> {
        if let known = state.withLock({ $0.enrolled[user] }) { return known }
        let ids = Set(try database.stores(user: user).map(\.storeID))
        state.withLock { $0.enrolled[user] = ids }
        return ids
    }

    func mountTableChanged(user: Int64) {
        state.withLock { $0.enrolled[user] = nil }
    }

    /// `{channel: {store_id: {store_id, url, code, created_time[, store_token]}}}`.
    public func table(user: Int64, session: SessionToken?) throws -> JSON {
        var channels: [String: JSON] = [:]
        for record in try database.stores(user: user) {
            var entry = channels[record.channel]?.objectValue ?? [:]
            entry[record.storeID] = storeJSON(record, session: session)
            channels[record.channel] = .object(entry)
        }
        return .object(channels)
    }

    public func channel(user: Int64, name: String, session: SessionToken?) throws -> JSON {
        let records = try database.stores(user: user).filter { $0.channel == name }
        guard !records.isEmpty else { throw APIError.notFound("TableError:UnknownChannel", "user \(user) has no channel \(name)") }
        return .object(Dictionary(uniqueKeysWithValues: records.map { ($0.storeID, storeJSON($0, session: session)) }))
    }

    func storeJSON(_ record: StoreRecord, session: SessionToken?) -> JSON {
        var object: [String: JSON] = ["store_id": .string(record.storeID), "url": .string(record.url), "code": .string(record.code),
                                      "created_time": .number(Double(record.created))]
        if let session { object["store_token"] = .string(session.storeToken(storeID: record.storeID).text) }
        return .object(object)
    }

    func record(user: Int64, store: StoreRecord) throws {
        try database.upsert(user: user, store: store)
        mountTableChanged(user: user)
    }

    public func removeStore(user: Int64, channel: String, storeID: String) throws {
        try database.deleteStore(user: user, channel: channel, storeID: storeID)
        mountTableChanged(user: user)
    }

    public func removeChannel(user: Int64, channel: String) throws {
        try database.deleteChannel(user: user, channel: channel)
        mountTableChanged(user: user)
    }

}
