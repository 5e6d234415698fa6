/// The agent's local API (docs/protocol.md#agent-local-api), over its Unix socket and optional
/// loopback port.
import Foundation
import Hummingbird
import NIOCore
import TeaBag
import TeaBagCore
import TeaBagPlugins
import TeaBagServerKit

struct AgentRoutes {
    let client: TeaBagClient
    let plugins: PluginHost
    let metrics: ServerMetrics
    let limits: BodyLimits
    let started: Date

    func register(on router: Router<ServerContext>) {
        router.get("/v1/channels") { _, _ in
            let status = await client.status()
            return Response.json(.object(Dictionary(uniqueKeysWithValues: status.channels.map { ($0.name, $0.json) })))
        }
        router.get("/v1/value/:channel/:type/**") { _, context in
            try await answering {
                let (channel, type, path) = try target(context)
                return Response.json(try await client.read(channel, type, path).json)
            }
        }
        router.post("/v1/push/:channel/:type/**") { request, context in
            let payload = try await request.jsonBody(limits, errorKind: "UserError")
            return try await answering {
                let (channel, type, path) = try target(context)
                let value = try await client.write(channel, type, path, payload)
                return Response.json(["value": value.value, "sha": .string(value.sha)])
            }
        }
        router.get("/v1/watch") { request, context in
            let query = request.uri.queryParameters
            func parameter(_ name: String) -> String? { query[Substring(name)].map(String.init).flatMap { $0.isEmpty ? nil : $0 } }
            let updates = await client.updates(parameter("channel"), type: parameter("type"), path: parameter("path"))
            return watch(updates, channel: context.channel)
        }
        router.get("/v1/status") { _, _ in
            var status = await client.status().json.objectValue ?? [:]
            status["plugins"] = .object([
                "types": .array(plugins.types.map { .string($0) }),
                "refused": .array(plugins.refusals.map { .string($0.description) }),
            ])
            status["uptime_s"] = .number(Double(Int(Date().timeIntervalSince(started))))
            return Response.json(.object(status))
        }
    }

    /// `:channel/:type/*path`; the path is everything after the type.
    /// Each is percent-decoded strictly: bytes that are not UTF-8 are refused
    /// rather than kept encoded, which would read or write another path.
    private func target(_ context: ServerContext) throws -> (String, String, String) {
        guard let channel = context.decodedParameter("channel") else {
            throw APIError(.tableUnknownChannel, "the channel name is not UTF-8 text")
        }
        guard let type = context.decodedParameter("type") else {
            throw APIError(.userInvalidType, "the type is not UTF-8 text")
        }
        guard let rest = PercentDecoding.decode(context.parameters.getCatchAll().joined(separator: "/")) else {
            throw APIError(.userInvalidPath, "the path is not UTF-8 text")
        }
        return (channel, type, "/" + rest)
    }

    /// One SSE event per value change: `{channel, type, path, value, sha}`.
    private func watch(_ updates: AsyncStream<ValueUpdate>, channel: any Channel) -> Response {
        EventStreamResponse.make(opening: ": teabag agent\n\n", channel: channel, source: { updates }, frame: { "data: \($0.json.canonicalString)\n\n" })
    }
}
