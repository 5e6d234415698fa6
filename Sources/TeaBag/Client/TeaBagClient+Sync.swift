import TeaBagCore

/// Driving the engines: hand out their requests, perform them over HTTP,
/// report the outcomes, and dispatch what changed.
extension TeaBagClient {
    /// Asks for one pump of `channel` soon: writes and stream events that
    /// come meanwhile are handled by the same pump.
    func pump(_ channel: String) {
        guard !closed, let runtime = channelRuntimes[channel], !runtime.pumpScheduled else { return }
        runtime.pumpScheduled = true
        Task { self.pumpNow(channel) }
    }

    /// Hands out the engine's requests, dispatches its events, answers
    /// readers and sets the retry timer.
    func pumpNow(_ channel: String) {
        guard let runtime = channelRuntimes[channel] else { return }
        runtime.pumpScheduled = false
        guard !closed else { return }
        let now = correctedNow()
        for request in runtime.engine.requests(now: now) {
            guard let endpoint = runtime.endpoint(request.store) else { continue }
            let id = nextRequestID
            nextRequestID += 1
            requestsInFlight[id] = Task {
                await self.perform(channel, request, at: endpoint)
                self.requestsInFlight[id] = nil
            }
        }
        foldStale(channel, runtime.engine.takeStaleFolds())
        dispatchEvents(channel, runtime)
        reportBehind()
        resolveReaders(channel, runtime)
        scheduleRetry(channel, runtime, now: now)
    }

    private func perform(_ channel: String, _ request: SyncRequest, at endpoint: StoreEndpoint) async {
        switch request {
        case .fetch(let store, let key, let generation):
            let result: Result<[Op], TeaBagError>
            do {
                let answer = try await storeAPI.oplog(endpoint, key)
                observeDate(store, answer.serverDate)
                result = .success(answer.ops)
            } catch {
                result = .failure(error)
            }
            noteCredentialFailure(result)
            guard let engine = channelRuntimes[channel]?.engine else { return }
            engine.fetched(store: store, key: key, generation: generation, result, now: correctedNow())
        case .deliver(let store, let entries):
            let result = await send(entries.map { PathOp(key: $0.key, op: $0.op) }, to: endpoint)
            guard let engine = channelRuntimes[channel]?.engine else { return }
            engine.delivered(store: store, entries: entries, result, now: correctedNow())
        case .push(let store, let items):
            let result = await send(items, to: endpoint)
            guard let engine = channelRuntimes[channel]?.engine else { return }
            engine.pushed(store: store, items: items, result, now: correctedNow())
        }
        pump(channel)
    }

    /// One batch request; a store without the batch route (an original
    /// 0.1.3 store answers 404) gets the ops one by one.
    private func send(_ items: [PathOp], to endpoint: StoreEndpoint) async -> Result<[StoreAnswer], TeaBagError> {
        let first: Result<[StoreAnswer], TeaBagError>
        do {
            let answer = try await storeAPI.batch(endpoint, items.map { (key: $0.key, op: $0.op) })
            observeDate(endpoint.storeID, answer.serverDate)
            first = .success(answer.answers)
        } catch {
            first = .failure(error)
        }
        guard case .failure(let error) = first, error.status == 404 else {
            noteCredentialFailure(first)
            return first
        }
        do {
            var answers: [StoreAnswer] = []
            for item in items {
                do { answers.append(try await storeAPI.push(endpoint, item.key, item.op)) } catch {
                    return answers.isEmpty ? .failure(error) : .success(answers + Array(repeating: .retryLater(error), count: items.count - answers.count))
                }
            }
            return .success(answers)
        }
    }

    /// Once: the stores hold own ops this storage does not know of (a
    /// restored backup, commits lost to a power cut). They come back by
    /// sync; new ops are numbered past them.
    private func reportBehind() {
        guard !reportedBehind, let behind = node?.behind else { return }
        reportedBehind = true
        logger.warning("the stores hold writes of this node that its database does not: agent.sqlite went back in time (restored from a backup, or a power cut under durability normal); they come back by sync, and new writes are numbered past them",
                       metadata: ["node": "\(node?.record.id ?? "")", "loaded_next_seq": "\(behind.loadedNextSeq)", "highest_seen_seq": "\(behind.highestSeenSeq)"])
    }

    private func observeDate(_ store: String, _ serverDate: Int64?) {
        guard let serverDate else { return }
        clock.observe(store: store, serverDate: serverDate, localNow: wallClock())
        keepClockCorrection()
    }

    func observeTableDate(_ serverDate: Int64) {
        clock.observeTable(serverDate: serverDate, localNow: wallClock())
        keepClockCorrection()
    }

    /// The correction as measured, kept for the next run's first ops
    /// (written only when it moves by more than the noise).
    private func keepClockCorrection() {
        let correction = clock.correction
        guard abs(correction - keptClockCorrection) > 1_000 else { return }
        keptClockCorrection = correction
        try? writer.saveSetting(Self.clockCorrectionSetting, String(correction))
    }

    static let clockCorrectionSetting = "clock_correction_ms"

    /// A store that refuses our token: perhaps the session died; the table
    /// says for sure.
    private func noteCredentialFailure<T>(_ result: Result<T, TeaBagError>) {
        if case .failure(let error) = result, error.isCredentialFailure { refreshTableSoon() }
    }

    func dispatchEvents(_ channel: String, _ runtime: ChannelRuntime) {
        for event in runtime.engine.takeEvents() {
            switch event {
            case .valueChanged(let key, let value):
                let update = ValueUpdate(channel: channel, type: key.type, path: key.path, value: value.value, sha: value.sha, date: value.date)
                for subscriber in subscribers.values where subscriber.wants(update) { subscriber.continuation.yield(update) }
            case .writeFailed(let key, let op, let error):
                let failure = WriteFailure(channel: channel, type: key.type, path: key.path, sha: op.sha, error: error)
                logger.warning("a store refused a write for good; it is removed locally", metadata: [
                    "channel": "\(channel)", "type": "\(key.type)", "path": "\(key.path)", "error": "\(error)"])
                recentFailures.append(failure)
                failedWriteCount += 1
                if recentFailures.count > 100 { recentFailures.removeFirst(recentFailures.count - 100) }
                for continuation in failureSubscribers.values { continuation.yield(failure) }
            case .storesDisagree(let key, let store, let op, let error):
                logger.warning("stores disagree on an op (different reducer versions?); the path will not be pruned", metadata: [
                    "channel": "\(channel)", "type": "\(key.type)", "path": "\(key.path)", "store": "\(store)",
                    "sha": "\(op.sha)", "error": "\(error)"])
            case .fetchFailedEverywhere(let key, let error):
                let readerKey = ReaderKey(channel: channel, key: key)
                for done in readers.removeValue(forKey: readerKey) ?? [] {
                    done(.failure(TeaBagError.allStoresFailed(channel, error.description)))
                }
            case .pruned(let key, _):
                prunes += 1
                logger.debug("pruned", metadata: ["channel": "\(channel)", "type": "\(key.type)", "path": "\(key.path)"])
            }
        }
    }

    private func resolveReaders(_ channel: String, _ runtime: ChannelRuntime) {
        for readerKey in readers.keys where readerKey.channel == channel && runtime.engine.isReadable(readerKey.key) {
            let answers = readers.removeValue(forKey: readerKey) ?? []
            for done in answers {
                if let value = runtime.engine.value(readerKey.key) {
                    done(.success(value))
                } else {
                    done(.failure(TeaBagError.typeNotRegistered(readerKey.key.type)))
                }
            }
        }
    }

    /// Folds of a slow type, on its own queue, one per path at a time; a path
    /// changed meanwhile is folded again after.
    private func foldStale(_ channel: String, _ stale: [ChannelSync.StaleFold]) {
        for job in stale {
            let readerKey = ReaderKey(channel: channel, key: job.key)
            if foldsInFlight.contains(readerKey) {
                foldAgain.insert(readerKey)
                continue
            }
            foldsInFlight.insert(readerKey)
            folds.foldLater(job.key.type) { [weak self] in
                let value = job.oplog.value(using: job.reducer).value
                Task { await self?.foldFinished(channel, job, value) }
            }
        }
    }

    private func foldFinished(_ channel: String, _ job: ChannelSync.StaleFold, _ value: JSON) {
        let readerKey = ReaderKey(channel: channel, key: job.key)
        foldsInFlight.remove(readerKey)
        guard let engine = channelRuntimes[channel]?.engine else { return }
        engine.folded(job.key, generation: job.generation, value: value)
        if foldAgain.remove(readerKey) != nil, let again = engine.staleFold(job.key) { foldStale(channel, [again]) }
        pump(channel)
    }

    /// One timer per channel, at the earliest time a failed store may be
    /// asked again.
    private func scheduleRetry(_ channel: String, _ runtime: ChannelRuntime, now: Int64) {
        guard let at = runtime.engine.nextRetry(now: now) else { return }
        if let timer = runtime.retryTimer, timer.at <= at { return }
        runtime.retryTimer?.task.cancel()
        let delay = max(1, at - now)
        runtime.retryTimer = (at, Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(delay))
            guard !Task.isCancelled else { return }
            await self?.retryTimerFired(channel)
        })
    }

    private func retryTimerFired(_ channel: String) {
        channelRuntimes[channel]?.retryTimer = nil
        pump(channel)
    }

    // MARK: streams

    func startStream(_ channel: String, _ endpoint: StoreEndpoint) -> Task<Void, Never> {
        let http = self.http
        return Task { [weak self] in
            await StoreStream.run(endpoint, http: http) { [weak self] event in
                await self?.streamEvent(channel, endpoint.storeID, event)
            }
        }
    }

    private func streamEvent(_ channel: String, _ store: String, _ event: StoreStreamEvent) {
        guard let engine = channelRuntimes[channel]?.engine else { return }
        switch event {
        case .connected(let resumed):
            engine.streamConnected(store: store, resumed: resumed)
        case .op(let key, let op):
            receivedOps += 1
            engine.streamed(store: store, key: key, op: op, now: correctedNow())
        case .resync:
            engine.streamResync(store: store)
        case .disconnected(let error):
            engine.streamDisconnected(store: store)
            if error.isCredentialFailure { refreshTableSoon() }
        }
        // Watchers hear of a remote change now; the rest waits for the pump,
        // which a burst of events shares.
        if let runtime = channelRuntimes[channel] { dispatchEvents(channel, runtime) }
        pump(channel)
    }
}
