/// Copies the WAL back into the database, off the writer's thread: a
/// PASSIVE checkpoint every 250 ms never waits for the writer. Starting the
/// WAL again from its beginning needs a moment with no commit under way,
/// which only the writer knows: it does that itself, between two groups,
/// once the WAL is past `restartBytes` (`WriterStore.restartWALIfLarge`).
import GRDB

enum WALCheckpoint {
    /// A WAL larger than this is reset by the writer (the file is then
    /// truncated to `journal_size_limit`, 8 MiB, at the next commit).
    static let restartBytes = 8 << 20

    static func run(_ pool: DatabasePool) throws {
        _ = try pool.writeWithoutTransaction { try $0.checkpoint(.passive) }
    }
}
