/// How the CLI talks to a local agent: its Unix socket (or an http URL),
/// every failure one line saying what to do.
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TeaBag
import TeaBagConfig
import TeaBagCore
import TeaBagServerKit

struct AgentLink {
    /// `http+unix://…` or `http://…`, without a trailing slash.
    let base: String
    /// What to show in messages.
    let display: String

    /// `--agent SOCKET|URL`, else conf.d's `agent.socket` (or
    /// `<agent.data>/agent.sock`): the agent `teabag dev` runs by default.
    static func resolve(agent: String?, config: String?) async throws -> AgentLink {
        var target = agent
        if target == nil {
            let settings: Settings
            do { settings = try await Settings.load(directory: config, flags: [:]) } catch {
                throw CLIFailure.usage("configuration: \(error.description)")
            }
            let section = settings.reader.scoped(to: "agent")
            let data = section.string(forKey: "data", default: "data/agent")
            target = section.string(forKey: "socket").flatMap { $0.isEmpty ? nil : $0 } ?? (data as NSString).appendingPathComponent("agent.sock")
        }
        let text = target!
        if text.hasPrefix("http://") || text.hasPrefix("https://") {
            return AgentLink(base: text.hasSuffix("/") ? String(text.dropLast()) : text, display: text)
        }
        let absolute = text.hasPrefix("/") ? text : FileManager.default.currentDirectoryPath + "/" + text
        let encoded = absolute.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? absolute
        return AgentLink(base: "http+unix://\(encoded)", display: "unix:\(text)")
    }

    static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }

    /// `/a/b c` → `a/b%20c`: each segment escaped, slashes kept.
    static func pathSegments(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: true).map { segment(String($0)) }.joined(separator: "/")
    }

    func call(_ method: HTTPMethod, _ route: String, body: JSON? = nil) async throws -> JSON {
        try await AdminHTTP.exchange(AdminHTTP.request(method, base + route, body: body), from: "the agent at \(display)", citing: false) { notRunning($0) }
    }

    /// Server-Sent Events from the agent, one `data:` payload at a time.
    func events(_ route: String) async throws -> AsyncThrowingStream<JSON, any Error> {
        var request = HTTPClientRequest(url: base + route)
        request.headers.add(name: "Accept", value: "text/event-stream")
        let response: HTTPClientResponse
        do {
            response = try await OutboundHTTP.client.execute(request, timeout: .hours(24 * 365))
        } catch {
            throw CLIFailure.runtime(notRunning(error))
        }
        guard response.status == .ok else { throw CLIFailure.runtime("the agent at \(display) answered \(response.status.code)") }
        return AsyncThrowingStream { continuation in
            let task = Task {
                var parser = SSEParser()
                do {
                    for try await buffer in response.body {
                        for event in try parser.feed(buffer.readableBytesView) {
                            if let data = event.data, let json = try? JSON.parse(data, maxDepth: 512) { continuation.yield(json) }
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: CLIFailure.runtime("the agent at \(display) closed the watch (\(Self.reason(error)))"))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func notRunning(_ error: any Error) -> String {
        "no agent answers at \(display) (\(Self.reason(error))); start one with `teabag dev` or `teabag agent`, or point --agent at it"
    }

    private static func reason(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("connectTimeout") || text.contains("connection refused") || text.contains("Connection refused")
            || text.contains("No such file") || text.contains("ENOENT") || text.contains("ECONNREFUSED") {
            return "not running"
        }
        return text
    }
}
