/// The table's PostgreSQL schema, as numbered migrations applied at start in
/// one transaction under an advisory lock, so table instances starting at
/// once over one database apply each exactly once. Tables are prefixed
/// `table_` so a store may later share the database.
import Logging
import PostgresNIO
import TeaBagPostgres

enum PostgresTableSchema {
    /// Versions in order; each a list of statements (the extended protocol runs one at a time).
    static let migrations: PostgresSupport.Migrations = [
        (1, [
            """
            CREATE TABLE table_users (
                id BIGINT PRIMARY KEY,
                master_hash TEXT NOT NULL,
                created_ms BIGINT NOT NULL,
                updated_ms BIGINT NOT NULL
            )
            """,
            // description and code are bytes: TEXT cannot hold U+0000, which SQLite keeps.
            """
            CREATE TABLE table_sessions (
                signature TEXT PRIMARY KEY,
                user_id BIGINT NOT NULL REFERENCES table_users(id) ON DELETE CASCADE,
                created_ms BIGINT NOT NULL,
                timeout_ms BIGINT NOT NULL,
                description BYTEA NOT NULL,
                last_check_ms BIGINT NOT NULL
            )
            """,
            "CREATE INDEX table_sessions_by_user ON table_sessions (user_id, created_ms)",
            """
            CREATE TABLE table_stores (
                user_id BIGINT NOT NULL REFERENCES table_users(id) ON DELETE CASCADE,
                channel TEXT NOT NULL,
                store_id TEXT NOT NULL,
                url TEXT NOT NULL,
                code BYTEA NOT NULL,
                created_ms BIGINT NOT NULL,
                PRIMARY KEY (user_id, channel, store_id)
            )
            """,
        ]),
    ]

    /// `pg_advisory_xact_lock` key: "teabag table schema".
    static let lockKey: Int64 = 0x7465_6162_6167_7462

    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await PostgresSupport.migrate(client, schema: "table", versionsTable: "table_schema_versions", lockKey: lockKey,
                                          migrations: migrations, logger: logger)
    }
}
