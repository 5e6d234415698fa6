/// `teabag plugins diff NEW.so --data DIR`: the dry run of a reducer
/// upgrade. Folds every held path of the types NEW.so serves through the
/// installed reducer and through NEW.so, read-only (safe on a live agent or
/// store), and prints what would change.
import ArgumentParser
import Foundation
import Logging
import TeaBag
import TeaBagConfig
import TeaBagCore
import TeaBagPlugins
import TeaBagStore

struct PluginsDiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show which held values a new reducer library would change (a dry run of an upgrade).",
        discussion: """
        Reads an agent's or a store's data directory read-only (safe while it runs). Prints each path whose value \
        would change (old → new), each path where NEW.so would skip ops, and a summary. Exit status: 0 nothing \
        changes, 1 values change, 2 NEW.so is refused (or a usage error).
        """)

    @Argument(help: "The new reducer library (.so).") var file: String
    @Option(help: "An agent's or a store's data directory (holding agent.sqlite or store.sqlite).") var data: String
    @Option(help: "Only this type (default: every type NEW.so serves).") var type: String?
    @Option(help: "A directory of the installed plugins (repeatable; default: conf.d's plugins.directories, else ./Plugins).")
    var plugins: [String] = []
    @Option(help: "conf.d directory (default ./conf.d, then /etc/teabag/conf.d): installed plugins and libffi reducers.")
    var config: String?

    func run() async throws {
        guard FileManager.default.fileExists(atPath: file) else {
            throw CLIFailure.usage("\(file) does not exist; give the path of the new plugin .so")
        }
        let candidates: [PluginReducer]
        do { candidates = try PluginLoader.load(file: file) } catch { throw CLIFailure.usage("refused: \(error.description)") }
        var newReducers = Dictionary(candidates.map { ($0.type, $0) }, uniquingKeysWith: { first, _ in first })
        if let type {
            guard let only = newReducers[type] else {
                throw CLIFailure.usage("\(file) does not serve type \(type) (it serves \(newReducers.keys.sorted().joined(separator: ", ")))")
            }
            newReducers = [type: only]
        }
        let installed = try await installedHost()
        let paths = try HeldPaths.read(dataDirectory: data, types: Set(newReducers.keys))
        var report = DiffReport()
        for held in paths {
            guard let candidate = newReducers[held.type] else { continue }
            let old = installed.reducer(for: held.type).map { held.oplog.value(using: $0) }
            report.add(held, old: old, new: held.oplog.value(using: candidate))
        }
        for line in report.lines { Output.line(line) }
        for type in newReducers.keys.sorted() {
            let old = installed.reducer(for: type).map { ($0 as? PluginReducer).map { "\($0.file) \($0.version)" } ?? "conf.d (libffi)" }
                ?? "none installed"
            Output.line("\(type): installed \(old); new \(file) \(newReducers[type]!.version)")
        }
        Output.line(report.summary)
        if report.changed > 0 { throw ExitCode(1) }
    }

    /// The reducers installed now, as the agent or store would load them.
    private func installedHost() async throws -> PluginHost {
        let settings: Settings
        do { settings = try await Settings.load(directory: config, flags: [:]) } catch {
            throw CLIFailure.usage("configuration: \(error.description)")
        }
        var pluginSettings: PluginSettings
        do { pluginSettings = try PluginSettings(settings: settings, extra: []) } catch {
            throw CLIFailure.usage("configuration: \(error.description)")
        }
        if !plugins.isEmpty { pluginSettings.directories = plugins }
        return PluginHost(directories: pluginSettings.directories, declared: pluginSettings.declared,
                          logger: Logger(label: "teabag.plugins", factory: { _ in SwiftLogNoOpLogHandler() }))
    }
}

/// The paths held in an agent's or a store's data directory, read-only.
struct HeldPaths {
    let type: String
    let path: String
    /// `channel main` for an agent, `user 1` for a store.
    let owner: String
    let oplog: Oplog

    static func read(dataDirectory: String, types: Set<String>) throws -> [HeldPaths] {
        let agentFile = (dataDirectory as NSString).appendingPathComponent("agent.sqlite")
        if FileManager.default.fileExists(atPath: StoreSnapshot.databasePath(dataDirectory: dataDirectory)) {
            do {
                return try StoreSnapshot.paths(dataDirectory: dataDirectory, types: types).map {
                    HeldPaths(type: $0.type, path: $0.path, owner: "user \($0.user)", oplog: Oplog(merging: [$0.base] + $0.ops))
                }
            } catch { throw CLIFailure.runtime("\(dataDirectory): \(error)") }
        }
        if FileManager.default.fileExists(atPath: agentFile) {
            do {
                let storage = try SQLiteClientStorage(readingOnly: agentFile)
                return try storage.oplogChannels().flatMap { channel in
                    try storage.oplogs(channel: channel).filter { types.contains($0.key.type) }.map {
                        HeldPaths(type: $0.key.type, path: $0.key.path, owner: "channel \(channel)", oplog: Oplog(merging: $0.ops))
                    }
                }
            } catch { throw CLIFailure.runtime("\(dataDirectory): \(error)") }
        }
        throw CLIFailure.usage("\(dataDirectory) holds neither agent.sqlite nor store.sqlite; give an agent's or a store's data directory")
    }
}

/// What `plugins diff` prints, path by path, and its counts.
struct DiffReport {
    private(set) var lines: [String] = []
    private(set) var folded = 0
    private(set) var changed = 0
    private(set) var skipping = 0

    mutating func add(_ held: HeldPaths, old: FoldOutcome?, new: FoldOutcome) {
        folded += 1
        let name = "\(held.type) \(held.path) (\(held.owner))"
        if old?.value != new.value {
            changed += 1
            lines.append("changes  \(name): " + ValueChangeText.render(old: old.map(\.value.canonicalString) ?? "(no installed reducer)",
                                                                     new: new.value.canonicalString))
        }
        let newlySkipped = new.skipped.filter { skip in !(old?.skipped.contains { $0.sha == skip.sha } ?? false) }
        if !newlySkipped.isEmpty {
            skipping += 1
            let count = newlySkipped.count == 1 ? "1 op" : "\(newlySkipped.count) ops"
            lines.append("skips    \(name): \(count) (\(ValueChangeText.clip(newlySkipped[0].message, 100)))")
        }
    }

    var summary: String {
        "\(folded) path\(folded == 1 ? "" : "s") folded: \(changed) would change, \(skipping) would skip ops, \(folded - changed) unchanged"
    }
}

/// `old → new` in one readable line: short values whole; long ones cut to
/// a window around their first difference.
enum ValueChangeText {
    static let width = 60

    static func render(old: String, new: String) -> String {
        if old.count <= width && new.count <= width { return "\(old) → \(new)" }
        let common = zip(old, new).prefix { $0 == $1 }.count
        let start = max(0, common - 20)
        return "\(window(old, from: start)) → \(window(new, from: start))"
    }

    private static func window(_ text: String, from start: Int) -> String {
        let characters = Array(text)
        let end = min(characters.count, start + width)
        return (start > 0 ? "…" : "") + String(characters[start..<end]) + (end < characters.count ? "…" : "")
    }

    static func clip(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }
}
