/// The agent's local API (docs/protocol.md#agent-local-api) over its Unix socket, as a program on the
/// user's machine calls it: AsyncHTTPClient with an `http+unix://` URL.
import Foundation
import NIOCore
import TeaBagCore
import TeaBagTestSupport

struct AgentAPI: Sendable {
    let socket: String
    let channel = "main"

    private var base: String {
        "http+unix://" + (socket.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? socket)
    }

    /// `POST /v1/push/main/:type/*path` with the payload as body.
    func push(_ type: String, _ path: String, _ payload: JSON, timeout: TimeAmount = .seconds(15)) async throws -> HTTPAnswer {
        try await HTTP.request(.POST, base + "/v1/push/\(channel)/\(type)\(path)", json: payload, timeout: timeout)
    }

    /// `GET /v1/value/main/:type/*path`.
    func value(_ type: String, _ path: String) async throws -> HTTPAnswer {
        try await HTTP.request(.GET, base + "/v1/value/\(channel)/\(type)\(path)", timeout: .seconds(15))
    }

    /// `GET /v1/status`, parsed.
    func status() async throws -> JSON {
        let answer = try await HTTP.request(.GET, base + "/v1/status", timeout: .seconds(10))
        guard answer.status == 200, let json = answer.json else { throw TestFailure("agent status: \(answer.status) \(answer.text)") }
        return json
    }

    /// The stores of channel `main` in the status: (outbox, connected, clock offset) of each.
    func stores() async throws -> [(outbox: Int64, connected: Bool, clockOffsetMs: Int64?)] {
        let stores = try await status()["channels"]?[channel]?["stores"]?.arrayValue ?? []
        return stores.map { ($0["outbox"]?.int64Value ?? -1, $0["connected"] == true, $0["clock_offset_ms"]?.int64Value) }
    }

    /// Own ops waiting for any store.
    func outboxTotal() async throws -> Int64 { try await stores().reduce(0) { $0 + max(0, $1.outbox) } }
}
