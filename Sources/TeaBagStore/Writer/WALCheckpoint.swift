/// Copies the WAL back into the database, off the writer's thread.
import Foundation
import GRDB

enum WALCheckpoint {
    /// A WAL larger than this is checkpointed with RESTART rather than PASSIVE.
    static let restartBytes = 32 << 20

    static func run(_ pool: DatabasePool, walPath: String) throws {
        let size = (try? FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int) ?? 0
        let mode: Database.CheckpointMode = size > restartBytes ? .restart : .passive
        _ = try pool.writeWithoutTransaction { try $0.checkpoint(mode) }
    }
}
