/// A corrupted or truncated database file, of a store and of an agent:
/// refused at start with one clear line and a non-zero exit, never a crash;
/// with the good file back, nothing acknowledged is missing.
import Foundation
import GRDB
import Testing
import TeaBagTestSupport

extension FaultScenarios {
    @Test func aCorruptOrTruncatedDatabaseIsRefusedAtStartWithOneClearLine() async throws {
        try await Scenario.run("corrupt-database", "store and agent database files with a garbage header, truncated to half, or short of their last page: refused at start") { run in
            try await withCluster { cluster in
                let history = History()
                let workload = cluster.startWorkload(history: history, tag: "r\(run)")
                try await pause(2_000)
                var notes: [String] = []
                for (node, file) in [(cluster.stores[2], "store.sqlite"), (cluster.agents[1], "agent.sqlite")] {
                    await node.stop()
                    let path = node.data + "/" + file
                    try DatabaseFiles.checkpoint(path)
                    let saved = try DatabaseFiles(path)
                    for damage in Damage.allCases {
                        try saved.restore()
                        try damage.apply(to: path)
                        let (status, _, stderr) = try await node.startExpectingRefusal(seconds: 20)
                        let lines = stderr.split(separator: "\n").filter { !$0.isEmpty }
                        let verdict = "\(node.name), \(damage.rawValue): exit \(status.map(String.init) ?? "none (still running)")"
                        #expect(status == 1 || status == 2, "\(verdict); stderr: \(stderr.suffix(600))")
                        #expect(lines.count == 1 && lines[0].contains(file), "\(verdict): one line naming the file, got \(lines.count): \(stderr.suffix(600))")
                        #expect(!stderr.contains("Fatal error") && !stderr.contains("Stack dump"), "\(verdict): crashed: \(stderr.suffix(600))")
                        let said = lines.last.map { $0.replacingOccurrences(of: cluster.root + "/", with: "") } ?? ""
                        notes.append("\(verdict): `\(said.prefix(110))…`")
                    }
                    try saved.restore()
                    try await node.start()
                }
                try await cluster.waitUntilAgentsConnected()
                try await pause(1_000)
                return await Scenario.check(cluster, workload, history, notes: notes)
            }
        }
    }
}

/// A database file and its WAL companions as they were, to put back.
private struct DatabaseFiles {
    let path: String
    let contents: [String: Data]

    init(_ path: String) throws {
        self.path = path
        var contents: [String: Data] = [:]
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            contents[suffix] = try Data(contentsOf: URL(fileURLWithPath: path + suffix))
        }
        self.contents = contents
    }

    /// Folds the WAL into the main file, as a checkpoint does: damage done
    /// to the main file then shows, instead of being masked by the copies of
    /// its pages that SQLite would read from the WAL (an agent exits
    /// without checkpointing, so its WAL often holds page 1).
    static func checkpoint(_ path: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try queue.close()
    }

    func restore() throws {
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: path + suffix)
            if let data = contents[suffix] { try data.write(to: URL(fileURLWithPath: path + suffix)) }
        }
    }
}

private enum Damage: String, CaseIterable {
    case garbageHeader = "garbage header"
    case truncated = "truncated to half"
    case lastPageCut = "its last page cut off"

    func apply(to path: String) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        switch self {
        case .garbageHeader:
            try handle.write(contentsOf: Data(repeating: 0xA5, count: 100))
        case .truncated:
            let size = try handle.seekToEnd()
            try handle.truncate(atOffset: size / 2)
        case .lastPageCut:
            let size = try handle.seekToEnd()
            try handle.truncate(atOffset: size - min(size, 4_096))
        }
    }
}
