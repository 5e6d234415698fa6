/// `teabag status`: the agent's channels, stores, outboxes, refused writes
/// and reducers as an aligned summary; `--json` prints the agent's
/// `/v1/status` as it is.
import ArgumentParser
import TeaBagCore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "The agent's channels, stores, outboxes, refused writes and reducers (--json: the JSON).")
    @OptionGroup var options: AgentOptions

    func run() async throws {
        let status = try await options.link().call(.GET, "/v1/status")
        Output.line(options.json ? status.canonicalString : StatusText.render(status))
    }
}

/// The human summary of `/v1/status`.
enum StatusText {
    static func render(_ status: JSON) -> String {
        var lines: [String] = []
        let refusedCount = status["failed_write_count"]?.int64Value ?? 0
        lines.append("agent    node \(status["node"]?.stringValue ?? "?")   up \(duration(status["uptime_s"]?.int64Value ?? 0))   "
                     + "prunes \(status["prunes"]?.int64Value ?? 0)   refused writes \(refusedCount)")
        if let error = status["session_error"] {
            lines.append("SESSION REFUSED: \(error["name"]?.stringValue ?? ""): \(error["message"]?.stringValue ?? "")")
        }
        let channels = (status["channels"]?.objectValue ?? [:]).sorted { $0.key < $1.key }
        if channels.isEmpty { lines.append("no channel yet (the agent has not read its mount table)") }
        for (name, channel) in channels {
            lines.append("")
            let paths = channel["paths"]?.int64Value ?? 0
            lines.append("channel  \(name)   \(paths) path\(paths == 1 ? "" : "s") held")
            var rows = [["STORE", "CONNECTION", "OUTBOX", "CLOCK", "URL", "LAST ERROR"]]
            for store in channel["stores"]?.arrayValue ?? [] {
                let connected = store["connected"] == true
                let state = connected ? "connected" : (store["retrying"] == true ? "retrying" : "disconnected")
                let offset = store["clock_offset_ms"]?.int64Value.map { ($0 > 0 ? "+" : "") + "\($0) ms" } ?? "-"
                let error = store["last_error"].map { "\($0["name"]?.stringValue ?? ""): \($0["message"]?.stringValue ?? "")" } ?? ""
                rows.append([String((store["store_id"]?.stringValue ?? "?").prefix(12)), state, "\(store["outbox"]?.int64Value ?? 0)",
                             offset, store["url"]?.stringValue ?? "?", error])
            }
            lines.append(TextTable.render(rows, indent: "  "))
        }
        let failed = status["failed_writes"]?.arrayValue ?? []
        if !failed.isEmpty {
            lines.append("")
            lines.append("refused writes (\(refusedCount) since start; the last \(failed.count), oldest first)")
            lines.append(TextTable.render(failed.map { write in
                [write["channel"]?.stringValue ?? "?", write["type"]?.stringValue ?? "?", write["path"]?.stringValue ?? "?",
                 "\(write["error"]?["name"]?.stringValue ?? ""): \(write["error"]?["message"]?.stringValue ?? "")"]
            }, indent: "  "))
        }
        lines.append("")
        let types = status["plugins"]?["types"]?.arrayValue?.compactMap(\.stringValue) ?? []
        lines.append("reducers  \(types.isEmpty ? "none loaded" : types.joined(separator: ", "))")
        for refusal in status["plugins"]?["refused"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
            lines.append("refused   \(refusal)")
        }
        return lines.joined(separator: "\n")
    }

    static func duration(_ seconds: Int64) -> String {
        seconds < 120 ? "\(seconds) s" : seconds < 7_200 ? "\(seconds / 60) min" : "\(seconds / 3_600) h"
    }
}
