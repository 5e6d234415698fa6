/// One channel of a running client: its sync engine, the stores' endpoints,
/// a stream task per store and the retry timer. Owned by the client actor.
final class ChannelRuntime {
    let engine: ChannelSync
    private(set) var endpoints: [StoreEndpoint]
    private var streams: [String: (endpoint: StoreEndpoint, task: Task<Void, Never>)] = [:]
    var retryTimer: (at: Int64, task: Task<Void, Never>)?
    /// A pump is on its way: more work waits for it rather than making another.
    var pumpScheduled = false

    init(engine: ChannelSync, endpoints: [StoreEndpoint]) {
        self.engine = engine
        self.endpoints = endpoints
    }

    func endpoint(_ storeID: String) -> StoreEndpoint? { endpoints.first { $0.storeID == storeID } }

    /// New endpoints from the mount table: the engine learns the store set,
    /// and a stream starts for each new (or re-tokened) store and stops for
    /// each one gone.
    func update(endpoints new: [StoreEndpoint], startStream: (StoreEndpoint) -> Task<Void, Never>) throws {
        endpoints = new
        try engine.setStores(new.map(\.storeID))
        for (storeID, stream) in streams where !new.contains(stream.endpoint) {
            stream.task.cancel()
            streams[storeID] = nil
        }
        for endpoint in new where streams[endpoint.storeID] == nil {
            streams[endpoint.storeID] = (endpoint, startStream(endpoint))
        }
    }

    /// Cancels the streams and the timer; the stream tasks, to await when
    /// the caller must know their connections are closed.
    @discardableResult
    func stop() -> [Task<Void, Never>] {
        let tasks = streams.values.map(\.task)
        for task in tasks { task.cancel() }
        streams = [:]
        retryTimer?.task.cancel()
        retryTimer = nil
        return tasks
    }
}
