/// The store's PostgreSQL schema, as numbered migrations applied at start
/// (once across instances, under an advisory lock). Tables are prefixed
/// `store_` so that a table and its stores may share one database; but all
/// processes of one store (one URL, one `store_id`) share one database, and
/// two different stores must not (their users would be one).
///
/// As in SQLite, one row per held op (`store_log`) serves both the oplogs
/// (by `path_id`) and the streams' history (by `(user_id, id)`); its `id` is
/// the op's stream id, per user, from `store_users.last_stream_id`.
/// Bytes that may hold U+0000 (which TEXT refuses and SQLite keeps) are BYTEA.
import Logging
import PostgresNIO
import TeaBagPostgres

enum PostgresStoreSchema {
    static let migrations: PostgresSupport.Migrations = [
        (1, [
            """
            CREATE TABLE store_users (
                id BIGINT PRIMARY KEY,
                created_ms BIGINT NOT NULL,
                table_url TEXT,
                store_ids TEXT NOT NULL DEFAULT '[]',
                last_stream_id BIGINT NOT NULL DEFAULT 0
            )
            """,
            """
            CREATE TABLE store_used_codes (
                user_id BIGINT NOT NULL,
                code BYTEA NOT NULL,
                expiry_ms BIGINT NOT NULL,
                PRIMARY KEY (user_id, code)
            )
            """,
            """
            CREATE TABLE store_paths (
                id BIGSERIAL PRIMARY KEY,
                user_id BIGINT NOT NULL REFERENCES store_users(id) ON DELETE CASCADE,
                type BYTEA NOT NULL,
                path BYTEA NOT NULL,
                base BYTEA NOT NULL,
                value BYTEA,
                value_version TEXT,
                value_date BIGINT,
                value_sha BYTEA,
                last_date BIGINT,
                last_sha BYTEA,
                skipped BIGINT NOT NULL DEFAULT 0,
                UNIQUE (user_id, type, path)
            )
            """,
            """
            CREATE TABLE store_log (
                user_id BIGINT NOT NULL,
                id BIGINT NOT NULL,
                path_id BIGINT NOT NULL REFERENCES store_paths(id) ON DELETE CASCADE,
                date BIGINT NOT NULL,
                sha BYTEA NOT NULL,
                node BYTEA,
                nseq BIGINT,
                payload BYTEA,
                value BYTEA,
                covers BYTEA,
                extra BYTEA,
                PRIMARY KEY (user_id, id)
            )
            """,
            "CREATE INDEX store_log_by_path ON store_log (path_id, sha)",
        ]),
    ]

    /// `pg_advisory_xact_lock` key: "teabag store schema".
    static let lockKey: Int64 = 0x7465_6162_6167_7373

    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await PostgresSupport.migrate(client, schema: "store", versionsTable: "store_schema_versions", lockKey: lockKey,
                                          migrations: migrations, logger: logger)
    }
}
