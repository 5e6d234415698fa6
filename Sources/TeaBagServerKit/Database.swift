/// SQLite for the servers: the system libsqlite3 through GRDB, in WAL mode.
import Foundation
import GRDB

/// How a commit reaches the disk (`durability` keys): `full` fsyncs every
/// commit; `normal` fsyncs at WAL checkpoints, so a power cut (not a
/// process crash) may lose the last commits.
public enum Durability: String, Sendable, CaseIterable {
    case full
    case normal
}

public enum ServerDatabase {
    /// Opens (creating if needed) a WAL database at `path` and runs `migrator`.
    /// A file that is not a database is refused with a message naming it.
    public static func open(path: String, durability: Durability, migrator: DatabaseMigrator) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(durability == .full ? "FULL" : "NORMAL")")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try migrator.migrate(pool)
        } catch let error as DatabaseError {
            throw DatabaseOpenError(path: path, reason: error.message ?? "\(error)")
        }
        return pool
    }
}

public struct DatabaseOpenError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String {
        "cannot open the database \(path): \(reason) (restore it from a backup, or move it away to start empty)"
    }
}

/// Keys a server generates at first start and keeps in its data directory (docs/configuration.md).
public enum KeyFile {
    /// The configured key, else the one kept in `directory/name` (generated on
    /// first start). `generatedPath` is set when this start created it.
    public static func resolve(configured: String?, directory: String, name: String) throws -> (key: String, generatedPath: String?) {
        if let configured { return (configured, nil) }
        let file = try loadOrCreate(directory: directory, name: name)
        return (file.key, file.created ? file.path : nil)
    }

    /// The key in `directory/name`, generated (32 random bytes, hex) when
    /// missing and written with mode 0600. Returns the key and whether it was new.
    public static func loadOrCreate(directory: String, name: String) throws -> (key: String, path: String, created: Bool) {
        let path = (directory as NSString).appendingPathComponent(name)
        if let existing = try? String(contentsOfFile: path, encoding: .utf8) {
            let key = existing.trimmingCharacters(in: .whitespacesAndNewlines)
            if !key.isEmpty { return (key, path, false) }
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        let key = bytes.map { String(format: "%02x", $0) }.joined()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        return (key, path, true)
    }
}
