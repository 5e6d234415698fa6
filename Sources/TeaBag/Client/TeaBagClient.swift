import AsyncHTTPClient
import Logging
import TeaBagCore

/// The client runtime (docs/sync.md#oplog-rules): reads the mount table, keeps the channels
/// it uses in memory, answers reads locally, accepts writes at once and
/// carries them to every store of the channel, streams from every store,
/// merges, and prunes once all stores agree.
///
/// ```swift
/// let reducers = ReducerRegistry()
/// reducers.register(type: "counter") { state, op in .number((state.doubleValue ?? 0) + (op.payload?.doubleValue ?? 0)) }
/// let client = try await TeaBagClient.connect(ClientConfiguration(
///     tableURL: "http://127.0.0.1:4000/", user: 1, credential: .master("secret")), reducers: reducers)
/// try await client.push("main", "counter", "/hits", 1)   // → 1, at once
/// ```
/// How a waiting read or write is answered (a continuation, or a callback
/// of the agent's event loop).
public typealias ValueAnswer = @Sendable (Result<PathValue, any Error>) -> Void

public actor TeaBagClient {
    public let configuration: ClientConfiguration
    public let reducers: ReducerRegistry
    let logger: Logger
    let storeAPI: StoreAPI
    let tableAPI: TableAPI
    let http: HTTPClient
    /// The storage, written from its own thread with group commit.
    let writer: StorageWriter
    /// Keeps a slow reducer from stalling more than its own type.
    let folds: FoldGuard
    /// Stale paths being folded off the actor, and those changed meanwhile.
    var foldsInFlight: Set<ReaderKey> = []
    var foldAgain: Set<ReaderKey> = []

    var sessionToken: String?
    /// Set once the table refuses the session: every call throws it.
    var sessionFailure: TeaBagError?
    var mountTable: [String: [StoreEndpoint]] = [:]
    var channelRuntimes: [String: ChannelRuntime] = [:]
    var node: NodeIdentity?
    var clock = ClockOffset()
    /// The correction last written to the storage.
    var keptClockCorrection: Int64 = 0
    var subscribers: [Int: Subscriber] = [:]
    var failureSubscribers: [Int: AsyncStream<WriteFailure>.Continuation] = [:]
    var recentFailures: [WriteFailure] = []
    var nextSubscriberID = 0
    var readers: [ReaderKey: [ValueAnswer]] = [:]
    /// Writes durable but not yet applied (an earlier write's answer is not
    /// in yet), by seq: answered with their value once applied.
    var writeWaiters: [Int64: (key: PathKey, done: ValueAnswer)] = [:]
    /// Writes handed in from any thread, waiting for the actor.
    let inbox = WriteInbox()
    /// Every readable value, for reads that skip the actor (the agent's `GET /v1/value`).
    public nonisolated let held = HeldValues()
    var background: [Task<Void, Never>] = []
    /// Requests to stores under way, so that `close()` can wait them out.
    var requestsInFlight: [Int: Task<Void, Never>] = [:]
    var nextRequestID = 0
    var closed = false
    var refreshing = false
    /// The table answered at least once.
    var tableRead = false
    var prunes = 0
    var failedWriteCount = 0
    /// The storage went back in time and that has been logged.
    var reportedBehind = false
    /// Counters for `status()` (the agent's dashboard charts their rates).
    var localWrites = 0
    var receivedOps = 0
    let wallClock: @Sendable () -> Int64

    public init(_ configuration: ClientConfiguration, reducers: ReducerRegistry = ReducerRegistry(),
                http: HTTPClient = ClientHTTP.shared, logger: Logger = Logger(label: "teabag.client"),
                clock: @escaping @Sendable () -> Int64 = { WallClock.milliseconds() }) {
        self.configuration = configuration
        self.reducers = reducers
        self.http = http
        self.logger = logger
        self.storeAPI = StoreAPI(http: http, timeout: configuration.requestTimeout)
        self.tableAPI = TableAPI(http: http, timeout: configuration.requestTimeout)
        self.wallClock = clock
        self.writer = (configuration.storage as? StorageWriter) ?? StorageWriter(configuration.storage, logger: logger)
        self.folds = FoldGuard(logger: logger)
    }

    /// A client that has read its mount table and started syncing.
    public static func connect(_ configuration: ClientConfiguration, reducers: ReducerRegistry = ReducerRegistry(),
                               logger: Logger = Logger(label: "teabag.client")) async throws -> TeaBagClient {
        let client = TeaBagClient(configuration, reducers: reducers, logger: logger)
        try await client.start()
        return client
    }

    /// Opens the session if needed, reads the mount table and starts the
    /// channels. What the storage held (outbox, cached oplogs) is served and
    /// delivered even when the table cannot be reached: then this throws,
    /// and the client keeps trying in the background.
    public func start() async throws {
        if node == nil {
            let storage = configuration.storage
            var record = try storage.loadNode()
            if record == nil {
                record = NodeRecord.fresh()
                try storage.saveNode(record!)
            }
            node = NodeIdentity(record!, seqFloorFromClock: true)
            if let text = try? storage.setting(Self.clockCorrectionSetting), let kept = Int64(text) {
                keptClockCorrection = kept
                clock.remember(kept)
            }
        }
        if background.isEmpty {
            // What the last run knew serves at once; the table refines it.
            try useCachedMountTable()
            background.append(Task { [weak self] in await self?.refreshLoop() })
            background.append(Task { [weak self] in await self?.cacheLoop() })
        }
        try await refreshTable()
    }

    // MARK: the public API

    /// Channels of the mount table this client follows.
    public var channels: [String] { channelRuntimes.keys.sorted() }

    public func stores(of channel: String) throws -> [StoreEndpoint] {
        try runtime(channel).endpoints
    }

    /// The value at a path. The first read of a path fetches it from every
    /// store and answers with the first that comes; later reads are local.
    public func get(_ channel: String, _ type: String, _ path: String) async throws -> JSON {
        try await read(channel, type, path).value
    }

    /// The value with its date, sha and op count.
    public func read(_ channel: String, _ type: String, _ path: String) async throws -> PathValue {
        try checkUsable()
        let key = try PathKey(type: type, path: path)
        let runtime = try await runtimeWhenKnown(channel)
        if let value = try runtime.engine.hold(key) { return value }
        pump(channel)
        return try await withCheckedThrowingContinuation { continuation in
            readers[ReaderKey(channel: channel, key: key), default: []].append { continuation.resume(with: $0) }
            pump(channel)
        }
    }

    /// Writes a payload op: applied locally and safe in the outbox when this
    /// returns the new local value; from there it reaches every store.
    @discardableResult
    public func push(_ channel: String, _ type: String, _ path: String, _ payload: JSON) async throws -> JSON {
        try await write(channel, type, path, payload).value
    }

    /// `push`, answering with the value's date, sha and op count.
    ///
    /// The op is made on this actor and committed by the storage writer,
    /// together with the writes that come meanwhile (group commit); while
    /// the disk works, this actor serves other calls. Writes are applied in
    /// the order they were made, and each answers with the value its op
    /// produced.
    public func write(_ channel: String, _ type: String, _ path: String, _ payload: JSON) async throws -> PathValue {
        try checkUsable()
        let key = try PathKey(type: type, path: path)
        _ = try await runtimeWhenKnown(channel)
        return try await withCheckedThrowingContinuation { continuation in
            submitWrite(channel, key, payload) { continuation.resume(with: $0) }
        }
    }

    /// Value changes, local or remote, of one channel, optionally narrowed
    /// to a type and a path. Ends when the client closes.
    public func updates(_ channel: String? = nil, type: String? = nil, path: String? = nil) -> AsyncStream<ValueUpdate> {
        let normalizedPath = path.flatMap { OplogKey.normalizePath($0) } ?? path
        let (stream, continuation) = AsyncStream<ValueUpdate>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        let id = nextSubscriberID
        nextSubscriberID += 1
        subscribers[id] = Subscriber(channel: channel, type: type, path: normalizedPath, continuation: continuation)
        continuation.onTermination = { [weak self] _ in Task { await self?.unsubscribe(id) } }
        if closed { continuation.finish() }
        return stream
    }

    /// Writes refused for good by a store (docs/sync.md#oplog-rules): never retried.
    public func failedWrites() -> AsyncStream<WriteFailure> {
        let (stream, continuation) = AsyncStream<WriteFailure>.makeStream(bufferingPolicy: .bufferingNewest(1_000))
        let id = nextSubscriberID
        nextSubscriberID += 1
        failureSubscribers[id] = continuation
        if closed { continuation.finish() }
        return stream
    }

    /// Waits until every channel has nothing to send and every store is
    /// known to hold what this client holds (for tests and tools).
    public func isQuiet() -> Bool { channelRuntimes.values.allSatisfy { $0.engine.isQuiet } }

    /// Stops streams and retries and waits until their connections are
    /// closed, writes the oplog cache, ends update streams.
    public func close() async {
        guard !closed else { return }
        closed = true
        held.close()
        for task in background { task.cancel() }
        var stopping = channelRuntimes.values.flatMap { $0.stop() }
        stopping += requestsInFlight.values
        for task in stopping { task.cancel() }
        for task in stopping { await task.value }
        flushCache()
        await writer.flush()
        for subscriber in subscribers.values { subscriber.continuation.finish() }
        for continuation in failureSubscribers.values { continuation.finish() }
        subscribers = [:]
        failureSubscribers = [:]
        failReaders { _ in TeaBagError.closed }
    }

    // MARK: internals shared by the extensions

    struct ReaderKey: Hashable {
        let channel: String
        let key: PathKey
    }

    struct Subscriber {
        let channel: String?
        let type: String?
        let path: String?
        let continuation: AsyncStream<ValueUpdate>.Continuation

        func wants(_ update: ValueUpdate) -> Bool {
            (channel == nil || channel == update.channel) && (type == nil || type == update.type) && (path == nil || path == update.path)
        }
    }

    func unsubscribe(_ id: Int) { subscribers[id] = nil }

    func checkUsable() throws {
        if closed { throw TeaBagError.closed }
        if let sessionFailure { throw sessionFailure }
    }

    func runtime(_ channel: String) throws -> ChannelRuntime {
        guard let runtime = channelRuntimes[channel] else {
            if !tableRead && channelRuntimes.isEmpty {
                throw TeaBagError(.tableUnreachable, "the table has not answered yet, so no channel is known (not even from an earlier run); check agent.table_url and that the table is running, then retry")
            }
            throw TeaBagError.unknownChannel(channel, known: Array(channelRuntimes.keys))
        }
        return runtime
    }

    /// A call that comes before the first mount table was read (an agent
    /// just started) waits for it a little rather than failing.
    func runtimeWhenKnown(_ channel: String) async throws -> ChannelRuntime {
        var waited = 0
        while channelRuntimes[channel] == nil && !tableRead && waited < 5_000 && !closed {
            try await Task.sleep(for: .milliseconds(20))
            waited += 20
        }
        return try runtime(channel)
    }

    /// A write's answer: its value, or, when its type is slow, the value
    /// once folded (it waits like a read).
    func answer(_ done: @escaping ValueAnswer, _ channel: String, _ key: PathKey, _ value: PathValue?) {
        if let value { return done(.success(value)) }
        readers[ReaderKey(channel: channel, key: key), default: []].append(done)
        pump(channel)
    }

    func correctedNow() -> Int64 { wallClock() + clock.correction }

    func failReaders(_ error: (ReaderKey) -> TeaBagError) {
        let waiting = readers
        readers = [:]
        for (key, answers) in waiting {
            for done in answers { done(.failure(error(key))) }
        }
    }
}
