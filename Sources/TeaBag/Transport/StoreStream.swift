/// The ops a store accepts, as they happen (docs/protocol.md#store streams): SSE with
/// `Last-Event-ID` resume, or the original long poll when that is all the
/// store speaks; reconnecting by itself until the consumer stops listening.
import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import Synchronization
import TeaBagCore

public enum StoreStreamEvent: Sendable, Equatable {
    /// The store answered and streams from now on. `resumed`: we reconnected
    /// with the id of the last event seen (SSE `Last-Event-ID`, or a long
    /// poll `reg_id`), so nothing in between is missed — unless a `.resync`
    /// follows, which says the store could not resume. When false, anything
    /// accepted before this point may have been missed: refetch what you hold.
    case connected(resumed: Bool)
    case op(PathKey, Op)
    /// Ops may have been missed (pruned from the store's stream log, or a
    /// lost long-poll registration): refetch what you hold.
    case resync
    /// The connection is gone or could not be made; the stream retries by
    /// itself, with backoff. Reported once per outage and again only when
    /// the reason changes.
    case disconnected(TeaBagError)
}

public enum StoreStream {
    /// Streams `store` until the returned stream is terminated (the consuming
    /// task cancelled, or the stream dropped), which closes the connection.
    public static func events(_ store: StoreEndpoint, http: HTTPClient = ClientHTTP.shared,
                              backoff: Backoff = .init()) -> AsyncStream<StoreStreamEvent> {
        events(store, http: http, backoff: backoff, options: Options())
    }

    struct Options: Sendable {
        /// The store sends a comment every 15 s; three missed means the connection is dead.
        var idleTimeout: Duration = .seconds(45)
        /// A connection up this long was a good one: the next failure backs off from the start.
        var goodConnection: Duration = .seconds(10)
        /// Speak the long poll from the start (a store known to be an original one).
        var longPoll = false
    }

    /// Events buffered for a consumer of `events` at most: past that the
    /// reader stops reading the connection until the consumer catches up,
    /// so a consumer that stops reading holds this much and no more.
    static let bufferLimit = 1_024

    static func events(_ store: StoreEndpoint, http: HTTPClient, backoff: Backoff, options: Options) -> AsyncStream<StoreStreamEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: StoreStreamEvent.self, bufferingPolicy: .bufferingOldest(bufferLimit))
        let reader = StreamReader(store: store, http: http, options: options, emit: { event in
            // A full buffer refuses the event: wait for room (the connection
            // is not read meanwhile, so TCP holds the store back).
            var pending = event
            while !Task.isCancelled, case .dropped(let refused) = continuation.yield(pending) {
                pending = refused
                try? await Task.sleep(for: .milliseconds(5))
            }
        })
        let task = Task {
            await reader.run(backoff: backoff)
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// The same stream, handled in the caller's task: it ends when that task
    /// is cancelled, and only once its connection is closed, so whoever
    /// awaits the task knows nothing of it is left running.
    ///
    /// Each event is handled before the next is read from the connection:
    /// nothing is buffered here, and a handler that falls behind slows the
    /// store's sending (TCP backpressure) instead of growing this process.
    public static func run(_ store: StoreEndpoint, http: HTTPClient = ClientHTTP.shared, backoff: Backoff = .init(),
                           handle: @escaping @Sendable (StoreStreamEvent) async -> Void) async {
        let reader = StreamReader(store: store, http: http, options: Options(), emit: handle)
        await reader.run(backoff: backoff)
    }
}

/// One stream's reconnect loop; its cursor outlives each connection.
final class StreamReader: Sendable {
    struct Cursor {
        var lastEventID: String?
        var regID: String?
        var longPoll: Bool
        /// Of the current attempt.
        var connectedAt: ContinuousClock.Instant?
        var delivered = false
    }

    let store: StoreEndpoint
    let http: HTTPClient
    let options: StoreStream.Options
    let emit: @Sendable (StoreStreamEvent) async -> Void
    let cursor: Mutex<Cursor>
    let what: String

    init(store: StoreEndpoint, http: HTTPClient, options: StoreStream.Options, emit: @escaping @Sendable (StoreStreamEvent) async -> Void) {
        self.store = store
        self.http = http
        self.options = options
        self.emit = emit
        self.cursor = Mutex(Cursor(longPoll: options.longPoll))
        self.what = "store \(store.userURL) (oplog/stream)"
    }

    func run(backoff initial: Backoff) async {
        var backoff = initial
        var reported: TeaBagError? = nil
        while !Task.isCancelled {
            cursor.withLock {
                $0.connectedAt = nil
                $0.delivered = false
            }
            let error = await attempt()
            if Task.isCancelled { return }
            let (connectedAt, delivered) = cursor.withLock { ($0.connectedAt, $0.delivered) }
            if connectedAt != nil { reported = nil }
            if reported?.name != error.name || reported?.status != error.status {
                await emit(.disconnected(error))
                reported = error
            }
            let delay: Duration
            if error.isCredentialFailure {
                // Only a new session helps; hammering the table will not.
                delay = backoff.maximum
            } else {
                if delivered || connectedAt.map({ ContinuousClock.now - $0 > options.goodConnection }) == true { backoff.reset() }
                delay = backoff.next()
            }
            try? await Task.sleep(for: delay)
        }
    }

    /// One connection, raced against the idle watch; the error that ended it.
    private func attempt() async -> TeaBagError {
        let watch = IdleWatch(limit: options.idleTimeout)
        return await withTaskGroup(of: TeaBagError.self) { group in
            group.addTask { await self.connect(watch) }
            group.addTask { await watch.expired(self.what) }
            let first = await group.next() ?? ClientHTTP.transportError(self.what, CancellationError())
            group.cancelAll()
            return first
        }
    }

    private func connect(_ watch: IdleWatch) async -> TeaBagError {
        let (lastEventID, longPoll) = cursor.withLock { ($0.lastEventID, $0.longPoll) }
        if longPoll { return await poll(watch, first: nil) }

        var request = request(query: "")
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
        let response: HTTPClientResponse
        do {
            // This deadline ends with the response head; the idle watch bounds silence after it.
            response = try await http.execute(request, timeout: ClientHTTP.timeAmount(options.idleTimeout))
        } catch {
            return ClientHTTP.transportError(what, error)
        }
        watch.touch()
        let status = Int(response.status.code)
        let contentType = response.headers.first(name: "Content-Type")?.lowercased() ?? ""
        guard status == 200, contentType.hasPrefix("text/event-stream") else {
            let body: ByteBuffer
            do { body = try await response.body.collect(upTo: ClientHTTP.maxBodyBytes) } catch {
                return ClientHTTP.transportError(what, error)
            }
            do {
                let reply = try ClientHTTP.reply(status: status, headers: response.headers, body: body.readableBytesView, what: what)
                // An original store ignores Accept: this is its long-poll registration.
                cursor.withLock { $0.longPoll = true }
                return await poll(watch, first: reply)
            } catch {
                return error
            }
        }

        await connected(resumed: lastEventID != nil)
        var parser = SSEParser()
        do {
            for try await buffer in response.body {
                watch.touch()
                for event in try parser.feed(buffer.readableBytesView) { await handle(event) }
            }
        } catch let error as SSEParser.LineTooLong {
            return TeaBagError(.protocolBadAnswer, "\(what): \(error)")
        } catch {
            return ClientHTTP.transportError(what, error)
        }
        return TeaBagError(.networkStreamEnded, "\(what): the store ended the stream (restarting or shutting down?); reconnecting")
    }

    /// The original long poll: `GET oplog/stream?reg_id=` again and again.
    private func poll(_ watch: IdleWatch, first: HTTPReply?) async -> TeaBagError {
        var pending = first
        var isConnected = false
        while !Task.isCancelled {
            let sentRegID = pending == nil ? cursor.withLock { $0.regID } : nil
            let reply: HTTPReply
            if let first = pending {
                reply = first
                pending = nil
            } else {
                let request = request(query: ClientHTTP.query(sentRegID.map { [("reg_id", $0)] } ?? []))
                do {
                    reply = try await ClientHTTP.send(request, http: http, timeout: options.idleTimeout, what: what)
                } catch {
                    return error
                }
            }
            watch.touch()
            guard let regID = reply.json["reg_id"]?.stringValue, let items = reply.json["stream"]?.arrayValue else {
                return StoreAPI.badAnswer(what, "{reg_id, stream: [...]}", reply.json)
            }
            if !isConnected {
                await connected(resumed: sentRegID != nil)
                isConnected = true
            }
            if reply.json["resync"] == true, sentRegID != nil { await deliver(.resync) }
            cursor.withLock { $0.regID = regID }
            for item in items { await deliver(item) }
        }
        return ClientHTTP.transportError(what, CancellationError())
    }

    private func request(query: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: store.userURL + "oplog/stream" + query)
        request.headers.add(name: "Authorization", value: ClientHTTP.bearer(store.token))
        return request
    }

    private func connected(resumed: Bool) async {
        cursor.withLock { $0.connectedAt = .now }
        await emit(.connected(resumed: resumed))
    }

    private func handle(_ event: SSEParser.Event) async {
        if let id = event.id { cursor.withLock { $0.lastEventID = id.isEmpty ? nil : id } }
        switch event.event {
        case "resync": await deliver(.resync)
        case nil, "message": if let data = event.data { await deliver((try? JSON.parse(Array(data.utf8), maxDepth: ClientHTTP.maxAnswerDepth)) ?? .null) }
        default: break  // an event type of a later protocol
        }
    }

    /// `{type, path, op}`. One we cannot read is not skipped silently: a
    /// `.resync` makes the consumer refetch, which reports the problem if it persists.
    private func deliver(_ item: JSON) async {
        guard let type = item["type"]?.stringValue, let path = item["path"]?.stringValue, let opJSON = item["op"],
              let key = try? PathKey(type: type, path: path), let op = try? Op(json: opJSON) else {
            await deliver(.resync)
            return
        }
        await deliver(.op(key, op))
    }

    private func deliver(_ event: StoreStreamEvent) async {
        cursor.withLock { $0.delivered = true }
        await emit(event)
    }
}

/// Silence on a connection longer than `limit` ends it.
final class IdleWatch: Sendable {
    let limit: Duration
    private let last = Mutex(ContinuousClock.now)

    init(limit: Duration) { self.limit = limit }

    func touch() { last.withLock { $0 = .now } }

    /// Returns once the connection has been silent for `limit` (or when cancelled).
    func expired(_ what: String) async -> TeaBagError {
        while !Task.isCancelled {
            let remaining = last.withLock { $0 } + limit - .now
            if remaining <= .zero {
                return TeaBagError(.networkTimeout, "\(what): nothing received for \(limit) (the store sends a keep-alive every 15 s); reconnecting")
            }
            try? await Task.sleep(for: remaining)
        }
        return ClientHTTP.transportError(what, CancellationError())
    }
}
