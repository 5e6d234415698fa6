/// Server-Sent Events read incrementally over a real connection: a task
/// reads the streamed body as it arrives and parses events; tests wait for
/// them with a timeout.
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

public struct SSEEvent: Sendable, Equatable {
    public var id: String?
    public var event: String?
    public var data: String?
    /// A comment-only block (`: …`), e.g. the opening line or a keep-alive.
    public var comment: String?

    public init(id: String? = nil, event: String? = nil, data: String? = nil, comment: String? = nil) {
        self.id = id
        self.event = event
        self.data = data
        self.comment = comment
    }
}

public final class SSEConnection: Sendable {
    public let status: Int
    public let headers: HTTPHeaders
    private let state = Mutex<(events: [SSEEvent], taken: Int, ended: Bool)>(([], 0, false))
    private let reader = Mutex<Task<Void, Never>?>(nil)

    private init(status: Int, headers: HTTPHeaders) {
        self.status = status
        self.headers = headers
    }

    /// Opens `url` and starts reading; the connection lasts at most `seconds`.
    public static func open(_ url: String, headers: [(String, String)], seconds: Int64 = 30) async throws -> SSEConnection {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(seconds))
        let connection = SSEConnection(status: Int(response.status.code), headers: response.headers)
        let task = Task {
            var pending = ""
            do {
                for try await buffer in response.body {
                    pending += String(buffer: buffer)
                    while let range = pending.range(of: "\n\n") {
                        let block = String(pending[..<range.lowerBound])
                        pending = String(pending[range.upperBound...])
                        let event = Self.parse(block)
                        connection.state.withLock { $0.events.append(event) }
                    }
                }
            } catch {}
            connection.state.withLock { $0.ended = true }
        }
        connection.reader.withLock { $0 = task }
        return connection
    }

    static func parse(_ block: String) -> SSEEvent {
        var event = SSEEvent()
        var data: [String] = []
        for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(":") {
                event.comment = String(line.dropFirst()).trimmingCharacters(in: .whitespaces)
                continue
            }
            let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let field = String(parts[0])
            var value = parts.count > 1 ? String(parts[1]) : ""
            if value.hasPrefix(" ") { value.removeFirst() }
            switch field {
            case "id": event.id = value
            case "event": event.event = value
            case "data": data.append(value)
            default: break
            }
        }
        if !data.isEmpty { event.data = data.joined(separator: "\n") }
        return event
    }

    /// The next event that is not a comment, or nil if none came within `seconds`.
    public func next(within seconds: Double = 5) async throws -> SSEEvent? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let found = state.withLock { s -> SSEEvent? in
                while s.taken < s.events.count {
                    let event = s.events[s.taken]
                    s.taken += 1
                    if event.comment == nil || event.data != nil || event.event != nil { return event }
                }
                return nil
            }
            if let found { return found }
            if Date() >= deadline || state.withLock({ $0.ended }) { return nil }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The next `count` events, or throws saying how many came.
    public func next(_ count: Int, within seconds: Double = 5) async throws -> [SSEEvent] {
        var events: [SSEEvent] = []
        let deadline = Date().addingTimeInterval(seconds)
        while events.count < count {
            guard let event = try await next(within: max(0, deadline.timeIntervalSinceNow)) else {
                throw TestFailure("SSE: \(events.count) of \(count) events within \(seconds) s: \(events)")
            }
            events.append(event)
        }
        return events
    }

    /// Every block received so far, comments included.
    public var received: [SSEEvent] { state.withLock { $0.events } }

    /// Whether the opening comment arrived (the stream is up).
    public func waitUntilOpen(within seconds: Double = 5) async throws -> Bool {
        try await eventually(seconds) { self.state.withLock { !$0.events.isEmpty } }
    }

    public func close() {
        reader.withLock { $0?.cancel() }
    }
}
