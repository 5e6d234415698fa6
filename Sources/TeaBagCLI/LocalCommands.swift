/// `teabag get|push|watch`: programs and people talking to the local agent
/// (docs/cli.md, docs/protocol.md#agent-local-api). JSON when the output is a pipe, readable text on a
/// terminal (`--json` forces JSON); an object from `get` is aligned
/// `key  value` lines unless `--json`.
import ArgumentParser
import Foundation
import TeaBagCore
#if canImport(Glibc)
import Glibc
#endif

struct AgentOptions: ParsableArguments {
    @Option(help: "The agent: its Unix socket or http://127.0.0.1:PORT (default: conf.d's agent.socket, or <agent.data>/agent.sock — the `teabag dev` agent).")
    var agent: String?

    @Option(help: "conf.d directory (default ./conf.d, then /etc/teabag/conf.d).")
    var config: String?

    @Flag(help: "Print JSON even on a terminal.")
    var json = false

    var readable: Bool { !json && isatty(STDOUT_FILENO) == 1 }

    func link() async throws -> AgentLink { try await AgentLink.resolve(agent: agent, config: config) }
}

enum Output {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}

struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Print the value at a path (answered locally by the agent).",
        discussion: "An object prints as aligned `key  value` lines (nested keys joined with dots); --json prints it as JSON.")
    @OptionGroup var options: AgentOptions
    @Argument(help: "The channel.") var channel: String
    @Argument(help: "The type (its reducer folds the value).") var type: String
    @Argument(help: "The path, e.g. /settings/theme.") var path: String
    @Flag(help: "Print {value, date, sha, ops} instead of the value alone.") var full = false

    func run() async throws {
        let link = try await options.link()
        let answer = try await link.call(.GET, "/v1/value/\(AgentLink.segment(channel))/\(AgentLink.segment(type))/\(AgentLink.pathSegments(path))")
        let shown = full ? answer : (answer["value"] ?? .null)
        if !options.json, case .object(let members) = shown, !members.isEmpty {
            return Output.line(TextTable.keyValues(shown))
        }
        Output.line(options.readable ? PrettyJSON.text(shown) : shown.canonicalString)
    }
}

struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "push", abstract: "Write an op; prints the new local value once the agent holds it on disk.")
    @OptionGroup var options: AgentOptions
    @Argument(help: "The channel.") var channel: String
    @Argument(help: "The type.") var type: String
    @Argument(help: "The path.") var path: String
    @Argument(help: "The payload, as JSON (quote strings: '\"Ada\"').") var payload: String

    func run() async throws {
        let body: JSON
        do { body = try JSON.parse(payload) } catch {
            throw CLIFailure.usage("the payload is not JSON (\(error)); numbers go as 1, strings quoted as '\"text\"', objects as '{\"k\":1}'")
        }
        let link = try await options.link()
        let answer = try await link.call(.POST, "/v1/push/\(AgentLink.segment(channel))/\(AgentLink.segment(type))/\(AgentLink.pathSegments(path))", body: body)
        let value = answer["value"] ?? .null
        Output.line(options.readable ? PrettyJSON.text(value) : value.canonicalString)
    }
}

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "watch", abstract: "Print value changes, local or remote, as they happen (one JSON line each).")
    @OptionGroup var options: AgentOptions
    @Argument(help: "Only this channel.") var channel: String?
    @Argument(help: "Only this type.") var type: String?
    @Argument(help: "Only this path.") var path: String?

    func run() async throws {
        var query: [String] = []
        if let channel { query.append("channel=\(AgentLink.segment(channel))") }
        if let type { query.append("type=\(AgentLink.segment(type))") }
        if let path { query.append("path=\(AgentLink.segment(path))") }
        let link = try await options.link()
        let events = try await link.events("/v1/watch" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
        for try await event in events {
            if options.readable {
                let where_ = [event["channel"], event["type"], event["path"]].compactMap { $0?.stringValue }.joined(separator: " ")
                Output.line("\(where_) = \((event["value"] ?? .null).canonicalString)")
            } else {
                Output.line(event.canonicalString)
            }
        }
    }
}

/// Indented JSON for people (keys sorted, as the canonical form).
enum PrettyJSON {
    static func text(_ value: JSON, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .array(let items) where !items.isEmpty:
            return "[\n" + items.map { inner + text($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let members) where !members.isEmpty:
            let sorted = members.sorted { Array($0.key.utf16).lexicographicallyPrecedes(Array($1.key.utf16)) }
            return "{\n" + sorted.map { inner + JSON.string($0.key).canonicalString + ": " + text($0.value, indent: inner) }.joined(separator: ",\n") + "\n\(indent)}"
        default:
            return value.canonicalString
        }
    }
}
