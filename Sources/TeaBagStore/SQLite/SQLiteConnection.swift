/// A thin wrapper over the system libsqlite3 for the store's writer thread,
/// which owns its connection and its prepared statements for its whole life.
/// GRDB serves every other access (migrations, reads, admin writes); the hot
/// path cannot afford its queue hop per transaction.
import Foundation
import GRDBSQLite

/// An SQLite failure: the result code and the connection's message.
struct SQLiteError: Error, CustomStringConvertible {
    let code: Int32
    let message: String
    var description: String { "SQLite error \(code): \(message)" }
    /// SQLITE_FULL: the disk (or its quota) is full.
    var isDiskFull: Bool { code & 0xff == SQLITE_FULL }
}

/// One connection, used from one thread at a time (the writer's, or a
/// reader's that opened it).
final class SQLiteConnection {
    // Unsafe 1: the handle is created in init and closed in deinit, and the
    // connection is confined to one thread, so no two calls race on it
    // (SQLite itself is built thread-safe, but a statement is not).
    let handle: OpaquePointer
    private var statements: [String: SQLiteStatement] = [:]

    init(path: String, readOnly: Bool = false) throws {
        var db: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: message)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 10_000)
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    func execute(_ sql: String) throws {
        if sql.hasPrefix("COMMIT") || sql.hasPrefix("ROLLBACK") { resetStatements() }
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(error)
            throw SQLiteError(code: rc, message: message)
        }
    }

    /// Copies the WAL into the database and lets the next commit start it
    /// again from its beginning (`SQLITE_CHECKPOINT_RESTART`), waiting at
    /// most `patienceMs` for readers of older snapshots; false when they
    /// held out (the WAL is then left as it is).
    func restartWAL(patienceMs: Int32) -> Bool {
        sqlite3_busy_timeout(handle, patienceMs)
        defer { sqlite3_busy_timeout(handle, 10_000) }
        return sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_RESTART, nil, nil) == SQLITE_OK
    }

    /// A prepared statement, kept for reuse: parsing SQL costs more than running it.
    func statement(_ sql: String) throws -> SQLiteStatement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        let statement = try SQLiteStatement(connection: self, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// Resets every cached statement: a SELECT left mid-way would hold a
    /// read snapshot open, and the next write transaction on this
    /// connection would fail with SQLITE_BUSY_SNAPSHOT once another
    /// connection has written.
    func resetStatements() {
        for statement in statements.values { sqlite3_reset(statement.handle) }
    }

    var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    func error(_ code: Int32) -> SQLiteError {
        SQLiteError(code: code, message: String(cString: sqlite3_errmsg(handle)))
    }
}

/// A prepared statement. Bind by 1-based index, step, read columns by 0-based index.
final class SQLiteStatement {
    private let connection: SQLiteConnection
    // Unsafe 2: finalized in deinit, used only by its connection's thread.
    let handle: OpaquePointer

    init(connection: SQLiteConnection, sql: String) throws {
        self.connection = connection
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(connection.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw connection.error(rc) }
        handle = statement
    }

    deinit { sqlite3_finalize(handle) }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func bind(_ index: Int32, _ value: Int64) { sqlite3_bind_int64(handle, index, value) }
    func bind(_ index: Int32, _ value: Int64?) {
        if let value { sqlite3_bind_int64(handle, index, value) } else { sqlite3_bind_null(handle, index) }
    }

    /// Text, copied by SQLite (SQLITE_TRANSIENT), so the Swift buffer may go.
    func bind(_ index: Int32, text: String?) {
        guard var text else {
            sqlite3_bind_null(handle, index)
            return
        }
        text.withUTF8 { bytes in
            _ = sqlite3_bind_text(handle, index, UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self),
                                  Int32(bytes.count), SQLiteStatement.transient)
        }
    }

    func bind(_ index: Int32, text bytes: [UInt8]?) {
        guard let bytes else {
            sqlite3_bind_null(handle, index)
            return
        }
        bytes.withUnsafeBufferPointer { buffer in
            _ = sqlite3_bind_text(handle, index, UnsafeRawPointer(buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!)
                                    .assumingMemoryBound(to: CChar.self), Int32(buffer.count), SQLiteStatement.transient)
        }
    }

    func bind(_ index: Int32, blob bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buffer in
            _ = sqlite3_bind_blob(handle, index, buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!, Int32(buffer.count),
                                  SQLiteStatement.transient)
        }
    }

    /// Runs a statement that returns no rows.
    func run() throws {
        let rc = sqlite3_step(handle)
        guard rc == SQLITE_DONE || rc == SQLITE_ROW else { throw connection.error(rc) }
    }

    /// The next row: true while there is one.
    func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw connection.error(rc)
    }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }

    /// The column's bytes (text or blob), copied.
    func bytes(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let base = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: count))
    }

    func optionalBytes(_ column: Int32) -> [UInt8]? { isNull(column) ? nil : bytes(column) }

    func text(_ column: Int32) -> String {
        String(decoding: bytes(column), as: UTF8.self)
    }

    func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }

    /// SQLITE_TRANSIENT: SQLite copies the bound value before the call returns.
    static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}
