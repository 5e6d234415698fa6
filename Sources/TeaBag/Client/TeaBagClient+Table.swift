import TeaBagCore

/// The mount table over time: read at start (or taken from the storage
/// when the table is unreachable), again periodically and on demand; a
/// channel or store added at the table is picked up, a removed one dropped,
/// and a refused session ends every call with a clear error.
extension TeaBagClient {
    private static let mountTableSetting = "mount_table"

    /// Reads the mount table now and applies it.
    public func refreshTable() async throws {
        try checkUsable()
        let result: Result<[String: [StoreEndpoint]], TeaBagError>
        do {
            let token = try await session()
            let answer = try await tableAPI.mountTableAndDate(tableURL: configuration.tableURL, user: configuration.user, sessionToken: token)
            if let serverDate = answer.serverDate { observeTableDate(serverDate) }
            result = .success(answer.table)
        } catch let error as TeaBagError {
            result = .failure(error)
        }
        let table: [String: [StoreEndpoint]]
        switch result {
        case .success(let answer): table = answer
        case .failure(let error):
            if error.isCredentialFailure {
                sessionRefused(error)
                throw sessionFailure!
            }
            logger.warning("the table is unreachable; keeping the mount table known so far", metadata: ["error": "\(error)"])
            throw error
        }
        try apply(table)
        tableRead = true
        try? writer.saveSetting(Self.mountTableSetting, Self.encode(table).canonicalString)
    }

    /// The mount table kept from the last run, if any.
    func useCachedMountTable() throws {
        guard mountTable.isEmpty, let cached = cachedMountTable() else { return }
        try apply(cached)
    }

    func refreshTableSoon() {
        guard !refreshing, !closed, sessionFailure == nil else { return }
        refreshing = true
        Task {
            try? await self.refreshTable()
            self.refreshing = false
        }
    }

    func refreshLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.tableRefresh)
            guard !Task.isCancelled, !closed, sessionFailure == nil else { return }
            do { try await refreshTable() } catch {
                logger.info("mount table refresh failed; keeping the last one", metadata: ["error": "\(error)"])
            }
        }
    }

    private func session() async throws -> String {
        if let sessionToken { return sessionToken }
        switch configuration.credential {
        case .session(let token):
            sessionToken = token
        case .master(let master, let timeout, let description):
            let result: Result<String, TeaBagError>
            do {
                result = .success(try await tableAPI.newSession(tableURL: configuration.tableURL, user: configuration.user,
                                                                master: master, timeoutMs: timeout, description: description))
            } catch {
                result = .failure(error)
            }
            switch result {
            case .success(let token): sessionToken = token
            case .failure(let error):
                if error.isCredentialFailure { sessionRefused(error) }
                throw sessionFailure ?? error
            }
        }
        return sessionToken!
    }

    private func sessionRefused(_ error: TeaBagError) {
        let failure = TeaBagError(error.name, "the table refuses this client's credentials (\(error.message)); make a new session (`teabag admin new-session`) and restart the client", status: error.status)
        sessionFailure = failure
        logger.error("session refused by the table; every call fails from now on", metadata: ["error": "\(error)"])
        held.close()
        failReaders { _ in failure }
        for runtime in channelRuntimes.values { runtime.stop() }
        for subscriber in subscribers.values { subscriber.continuation.finish() }
        subscribers = [:]
    }

    private func apply(_ table: [String: [StoreEndpoint]]) throws {
        let wanted = configuration.channels.map(Set.init)
        let followed = table.filter { wanted?.contains($0.key) ?? true }
        for (channel, runtime) in channelRuntimes where followed[channel] == nil {
            runtime.stop()
            channelRuntimes[channel] = nil
            held.drop(channel: channel)
            logger.info("channel left the mount table", metadata: ["channel": "\(channel)"])
        }
        for (channel, endpoints) in followed.sorted(by: { $0.key < $1.key }) {
            if channelRuntimes[channel] == nil {
                let registry = reducers
                held.open(channel: channel)
                let engine: ChannelSync
                do {
                    engine = try ChannelSync(channel: channel, stores: [], node: node!, storage: writer,
                                             policy: configuration.policy, folds: folds, held: held,
                                             reducers: { registry.reducer(for: $0) })
                } catch {
                    held.drop(channel: channel)
                    throw error
                }
                channelRuntimes[channel] = ChannelRuntime(engine: engine, endpoints: [])
            }
            let runtime = channelRuntimes[channel]!
            if runtime.endpoints != endpoints {
                try runtime.update(endpoints: endpoints) { startStream(channel, $0) }
            }
            pump(channel)
        }
        mountTable = table
    }

    private func cachedMountTable() -> [String: [StoreEndpoint]]? {
        guard let text = try? configuration.storage.setting(Self.mountTableSetting),
              let json = try? JSON.parse(text), case .object(let channels) = json else { return nil }
        return channels.mapValues { stores in
            (stores.arrayValue ?? []).compactMap { store in
                guard let id = store["store_id"]?.stringValue, let url = store["url"]?.stringValue,
                      let token = store["store_token"]?.stringValue else { return nil }
                return StoreEndpoint(storeID: id, userURL: url, token: token)
            }
        }
    }

    private static func encode(_ table: [String: [StoreEndpoint]]) -> JSON {
        .object(table.mapValues { endpoints in
            .array(endpoints.map { ["store_id": .string($0.storeID), "url": .string($0.userURL), "store_token": .string($0.token)] })
        })
    }

    // MARK: the oplog cache

    func cacheLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.cacheFlush)
            guard !Task.isCancelled, !closed else { return }
            flushCache()
        }
    }

    func flushCache() {
        for (channel, runtime) in channelRuntimes {
            let dirty = runtime.engine.takeDirtyOplogs()
            guard !dirty.isEmpty else { continue }
            do { try writer.saveOplogs(channel: channel, dirty) } catch {
                logger.warning("could not write the oplog cache; reads after a restart will refetch", metadata: ["error": "\(error)"])
            }
        }
    }
}
