import TeaBagCore

/// What a client knows about its channels and stores, for `status` and the
/// agent's `/v1/channels`.
public struct ClientStatus: Sendable {
    public struct Store: Sendable {
        public let storeID: String
        public let url: String
        public let connected: Bool
        /// Own ops waiting to reach this store.
        public let outbox: Int
        public let retrying: Bool
        public let lastError: TeaBagError?
        /// This machine's clock against the store's `Date` (ms; positive: the store is ahead).
        public let clockOffsetMs: Int64?
    }

    public struct Channel: Sendable {
        public let name: String
        public let stores: [Store]
        public let paths: Int
    }

    public let node: String
    public let channels: [Channel]
    /// The last 100 writes refused for good.
    public let failedWrites: [WriteFailure]
    /// All writes refused for good since start.
    public let failedWriteCount: Int
    public let prunes: Int
    public let sessionError: TeaBagError?
    /// Writes made through this client since start.
    public let localWrites: Int
    /// Ops received on the stores' streams since start.
    public let receivedOps: Int
    /// Set when a store showed own writes this client's database did not
    /// know: the database went back in time (docs/sync.md).
    public var behindStores: NodeIdentity.Behind? = nil

    public var json: JSON {
        var result: [String: JSON] = [
            "node": .string(node),
            "prunes": .number(Double(prunes)),
            "failed_write_count": .number(Double(failedWriteCount)),
            "local_writes": .number(Double(localWrites)),
            "received_ops": .number(Double(receivedOps)),
            "channels": .object(Dictionary(uniqueKeysWithValues: channels.map { ($0.name, $0.json) })),
            "failed_writes": .array(failedWrites.map {
                ["channel": .string($0.channel), "type": .string($0.type), "path": .string($0.path), "sha": .string($0.sha),
                 "error": ["name": .string($0.error.name), "message": .string($0.error.message)]]
            }),
        ]
        result["behind_stores"] = .bool(behindStores != nil)
        if let behindStores {
            result["behind"] = ["loaded_next_seq": .number(Double(behindStores.loadedNextSeq)),
                                "highest_seen_seq": .number(Double(behindStores.highestSeenSeq))]
        }
        if let sessionError { result["session_error"] = ["name": .string(sessionError.name), "message": .string(sessionError.message)] }
        return .object(result)
    }
}

extension ClientStatus.Channel {
    public var json: JSON {
        ["paths": .number(Double(paths)), "stores": .array(stores.map(\.json))]
    }
}

extension ClientStatus.Store {
    public var json: JSON {
        var result: [String: JSON] = [
            "store_id": .string(storeID), "url": .string(url), "connected": .bool(connected),
            "outbox": .number(Double(outbox)), "retrying": .bool(retrying),
        ]
        if let lastError { result["last_error"] = ["name": .string(lastError.name), "message": .string(lastError.message)] }
        if let clockOffsetMs { result["clock_offset_ms"] = .number(Double(clockOffsetMs)) }
        return .object(result)
    }
}

extension TeaBagClient {
    public func status() -> ClientStatus {
        let now = correctedNow()
        let offsets = clock.perStore
        let channels = channelRuntimes.sorted { $0.key < $1.key }.map { name, runtime in
            let states = Dictionary(uniqueKeysWithValues: runtime.engine.status(now: now).map { ($0.store, $0) })
            let stores = runtime.endpoints.map { endpoint in
                let state = states[endpoint.storeID]
                return ClientStatus.Store(storeID: endpoint.storeID, url: endpoint.userURL, connected: state?.connected ?? false,
                                          outbox: state?.outbox ?? 0, retrying: state?.retrying ?? false,
                                          lastError: state?.lastError, clockOffsetMs: offsets[endpoint.storeID])
            }
            return ClientStatus.Channel(name: name, stores: stores, paths: runtime.engine.heldKeys.count)
        }
        var status = ClientStatus(node: node?.record.id ?? "", channels: channels, failedWrites: recentFailures,
                                  failedWriteCount: failedWriteCount, prunes: prunes, sessionError: sessionFailure,
                                  localWrites: localWrites, receivedOps: receivedOps)
        status.behindStores = node?.behind
        return status
    }

    /// The paths a channel holds with their current values, in path order,
    /// at most `limit` of them (the agent's dashboard lists them).
    public func heldValues(_ channel: String, limit: Int = 2_000) -> [ValueUpdate] {
        guard let engine = channelRuntimes[channel]?.engine else { return [] }
        return engine.heldKeys.prefix(limit).compactMap { key in
            engine.value(key).map { ValueUpdate(channel: channel, type: key.type, path: key.path, value: $0.value, sha: $0.sha, date: $0.date) }
        }
    }
}
