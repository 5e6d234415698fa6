/// A small real HTTP server for what a TeaBag store never does: answer like
/// the original 0.1.3 store (long poll whatever Accept says, no batch
/// route), go silent mid-stream, or report when a client hangs up.
import Foundation
import Hummingbird
import Logging
import NIOCore
import TeaBag
import TeaBagCore
import TeaBagServerKit
import TeaBagTestSupport

struct FixtureServer: Sendable {
    let url: String
    /// SSE responses of `ticking/` still being written.
    let openTicking: Locked<Int>
    /// The `reg_id` of each long poll of `original/`, nil for the first.
    let polls: Locked<[String?]>
    private let shuttingDown: Locked<Bool>
    private let services: InProcessServices

    /// The op `original/` streams on its first poll.
    static let originalOp: JSON = ["date": 1_000, "sha": "orig-1", "payload": 7]

    func endpoint(_ route: String) -> StoreEndpoint {
        StoreEndpoint(storeID: route, userURL: url + route + "/", token: "store_fixture")
    }

    static func start() async throws -> FixtureServer {
        let openTicking = Locked(0)
        let polls = Locked<[String?]>([])
        let shuttingDown = Locked(false)
        let router = Router()

        // SSE forever, a comment every 50 ms; counts itself open until a write fails (the client left).
        router.get("/ticking/oplog/stream") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/event-stream"], body: ResponseBody { writer in
                openTicking.withLock { $0 += 1 }
                defer { openTicking.withLock { $0 -= 1 } }
                while !shuttingDown.current {
                    try await writer.write(ByteBuffer(string: ": tick\n\n"))
                    try await Task.sleep(for: .milliseconds(50))
                }
                try await writer.finish(nil)
            })
        }

        // SSE that opens, then says nothing at all.
        router.get("/silent/oplog/stream") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/event-stream"], body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: ": opened\n\n"))
                while !shuttingDown.current { try await Task.sleep(for: .milliseconds(20)) }
                try await writer.finish(nil)
            })
        }

        // The original long poll: a registration with one op, then a lost registration, then quiet polls.
        router.get("/original/oplog/stream") { request, _ -> Response in
            let regID = request.uri.queryParameters["reg_id"].map(String.init)
            polls.withLock { $0.append(regID) }
            let answer: JSON
            switch regID {
            case nil: answer = ["reg_id": "r1", "stream": [["type": "note", "path": "/x", "op": originalOp]]]
            case "r1": answer = ["reg_id": "r2", "stream": [], "resync": true]
            default:
                try await Task.sleep(for: .milliseconds(100))
                answer = ["reg_id": .string(regID ?? ""), "stream": []]
            }
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: answer.canonicalBytes)))
        }

        let address = BoundPort()
        let application = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in address.port.withLock { $0 = channel.localAddress?.port } },
            logger: Logger(label: "fixture", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let services = InProcessServices([application], logger: Logger(label: "fixture", factory: { _ in SwiftLogNoOpLogHandler() }))
        guard try await eventually(30, { address.port.current != nil }), let port = address.port.current else {
            await services.stop()
            throw TestFailure("the fixture server did not start")
        }
        return FixtureServer(url: "http://127.0.0.1:\(port)/", openTicking: openTicking, polls: polls,
                             shuttingDown: shuttingDown, services: services)
    }

    func stop() async {
        shuttingDown.withLock { $0 = true }
        await services.stop()
    }
}

private final class BoundPort: Sendable {
    let port = Locked<Int?>(nil)
}

extension FixtureServer: Stoppable {}
