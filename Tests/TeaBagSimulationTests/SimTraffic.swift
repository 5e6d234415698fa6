import TeaBag
import TeaBagCore

/// Requests, answers and streams between clients and stores: every message
/// may be delayed, lost or (requests) duplicated while the network is faulty.
extension Simulation {
    // MARK: requests and answers

    func send(client c: Int, _ request: SyncRequest) {
        let client = clients[c]
        let id = nextRequestID
        nextRequestID += 1
        client.inflight[id] = request
        let s = storeIndex[request.store]!
        let lost = rng.chance(network.drop)
        note { "c\(c) → s\(s) #\(id) \(Self.describe(request))\(lost ? " (LOST)" : "")" }
        if lost { coverage.lostMessages += 1 } else {
            queue.push(time + network.delay(&rng), .arrive(id: id, client: c, incarnation: client.incarnation, store: s, request: request, copy: false))
        }
        if rng.chance(network.duplicate) {
            coverage.duplicates += 1
            queue.push(time + network.delay(&rng), .arrive(id: id, client: c, incarnation: client.incarnation, store: s, request: request, copy: true))
        }
        queue.push(time + Self.requestTimeout, .timeout(id: id, client: c, incarnation: client.incarnation))
    }

    /// The store applies a request when it arrives, durably, whatever then
    /// happens to the answer.
    func storeReceives(id: Int, client c: Int, incarnation: Int, store s: Int, request: SyncRequest, copy: Bool) {
        let store = stores[s]
        guard store.up else {
            note { "s\(s) is down: #\(id) lost" }
            return
        }
        touchedStores[s] = true
        let outcome: Outcome
        switch request {
        case .fetch(_, let key, _):
            outcome = .oplog(store.oplog(key).wire)
        case .deliver(_, let entries):
            outcome = .answers(entries.map { receive(store: s, $0.key, $0.op) })
        case .push(_, let items):
            outcome = .answers(items.map { receive(store: s, $0.key, $0.op) })
        }
        let lost = rng.chance(network.drop)
        note { "s\(s) ← #\(id)\(copy ? " (copy)" : ""): \(Self.describe(outcome))\(lost ? " (answer LOST)" : "")" }
        guard !lost else {
            coverage.lostMessages += 1
            return
        }
        queue.push(time + network.delay(&rng),
                   .answer(id: id, client: c, incarnation: incarnation, store: s, storeEpoch: store.epoch, outcome: outcome))
    }

    private func receive(store s: Int, _ key: PathKey, _ op: Op) -> StoreAnswer {
        let (answer, entry) = stores[s].receive(key, op, now: time)
        switch answer {
        case .refused: refusedByStores.insert(op.sha)
        case .retryLater: coverage.futureDates += 1
        case .accepted(let noop): if noop && op.isValueOp && !stores[s].oplog(key).holds(sha: op.sha) { coverage.losingBases += 1 }
        }
        if let entry {
            for c in clients.indices where clients[c].streams[s].up { pipe(client: c, store: s, .streamEntry(client: c, store: s, epoch: clients[c].streams[s].epoch, entry: entry)) }
        }
        return answer
    }

    func clientReceives(id: Int, client c: Int, incarnation: Int, store s: Int, storeEpoch: Int, outcome: Outcome) {
        // A store that crashed since it answered never got the answer out.
        guard stores[s].epoch == storeEpoch else { return }
        let client = clients[c]
        guard incarnation == client.incarnation, let request = client.inflight.removeValue(forKey: id) else { return }
        client.observeDate(store: storeNames[s], virtual: time)
        note { "c\(c) ← s\(s) #\(id)" }
        report(client: c, request, .success(outcome))
    }

    func timedOut(id: Int, client c: Int, incarnation: Int) {
        let client = clients[c]
        guard incarnation == client.incarnation, let request = client.inflight.removeValue(forKey: id) else { return }
        note { "c\(c) #\(id) times out" }
        coverage.timeouts += 1
        report(client: c, request, .failure(TeaBagError("NetworkError:Unreachable", "no answer from \(request.store) within \(Self.requestTimeout) ms")))
    }

    private func report(client c: Int, _ request: SyncRequest, _ result: Result<Outcome, TeaBagError>) {
        let client = clients[c]
        guard let engine = client.engine else { return }
        let now = client.now(time)
        switch request {
        case .fetch(let store, let key, let generation):
            engine.fetched(store: store, key: key, generation: generation, result.map { outcome in
                guard case .oplog(let ops) = outcome else { fatalError("a fetch is answered with an oplog") }
                return ops
            }, now: now)
            if case .success = result, client.fetchedSinceStart.insert(key).inserted { client.checked[key] = nil }
        case .deliver(let store, let entries):
            engine.delivered(store: store, entries: entries, result.map(Self.answers), now: now)
        case .push(let store, let items):
            engine.pushed(store: store, items: items, result.map(Self.answers), now: now)
        }
        pump(c)
    }

    private static func answers(_ outcome: Outcome) -> [StoreAnswer] {
        guard case .answers(let answers) = outcome else { fatalError("a batch is answered with one answer per op") }
        return answers
    }

    // MARK: streams

    /// Puts a stream message in a connection's pipe: later than the one
    /// before it, so a connection delivers in order.
    private func pipe(client c: Int, store s: Int, _ event: SimEvent) {
        let delay = rng.chance(network.slow) ? rng.ms(100...1_500) : rng.ms(1...30)
        let at = max(clients[c].streams[s].pipeTail, time + delay)
        clients[c].streams[s].pipeTail = at
        queue.push(at, event)
    }

    func scheduleConnect(client c: Int, store s: Int, after range: ClosedRange<Int64>) {
        clients[c].streams[s].connecting = true
        queue.push(time + rng.ms(range), .streamConnect(client: c, store: s, incarnation: clients[c].incarnation))
    }

    /// SSE as the runtime speaks it: resuming from `Last-Event-ID` when it
    /// has one (replay, or `resync` when the store no longer holds it all),
    /// else from now on, unresumed.
    func streamConnect(client c: Int, store s: Int, incarnation: Int) {
        let client = clients[c]
        guard incarnation == client.incarnation, let engine = client.engine, !client.streams[s].up else { return }
        client.streams[s].connecting = false
        guard stores[s].up else {
            scheduleConnect(client: c, store: s, after: 300...1_500)
            return
        }
        client.streams[s].up = true
        client.streams[s].epoch += 1
        client.streams[s].pipeTail = time
        let epoch = client.streams[s].epoch
        if let cursor = client.streams[s].cursor {
            let resumable = stores[s].canResume(after: cursor)
            note { "c\(c) ⇄ s\(s) stream resumes after \(cursor)\(resumable ? "" : ": RESYNC")" }
            engine.streamConnected(store: storeNames[s], resumed: true)
            if resumable { coverage.resumes += 1 } else { coverage.resyncs += 1 }
            if resumable {
                for entry in stores[s].entries(after: cursor) { pipe(client: c, store: s, .streamEntry(client: c, store: s, epoch: epoch, entry: entry)) }
            } else {
                pipe(client: c, store: s, .streamResync(client: c, store: s, epoch: epoch))
            }
        } else {
            note { "c\(c) ⇄ s\(s) stream connects" }
            engine.streamConnected(store: storeNames[s], resumed: false)
        }
        if !healed, rng.chance(scenario.breakRate) {
            queue.push(time + rng.ms(200...15_000), .streamBreak(client: c, store: s, epoch: epoch))
        }
        pump(c)
    }

    func breakStream(client c: Int, store s: Int) {
        let client = clients[c]
        client.streams[s].up = false
        client.streams[s].epoch += 1
        client.engine?.streamDisconnected(store: storeNames[s])
        touchedClients[c] = true
        scheduleConnect(client: c, store: s, after: 100...3_000)
    }

    func streamEntry(client c: Int, store s: Int, epoch: Int, entry: StreamEntry) {
        let client = clients[c]
        guard let engine = client.engine, client.streams[s].up, client.streams[s].epoch == epoch else { return }
        note { "c\(c) ⇐ s\(s) stream #\(entry.id) \(entry.key.path) \(Self.describe(entry.op))" }
        engine.streamed(store: storeNames[s], key: entry.key, op: entry.op, now: client.now(time))
        client.streams[s].cursor = entry.id
        pump(c)
    }

    func streamResync(client c: Int, store s: Int, epoch: Int) {
        let client = clients[c]
        guard let engine = client.engine, client.streams[s].up, client.streams[s].epoch == epoch else { return }
        note { "c\(c) ⇐ s\(s) stream: resync" }
        engine.streamResync(store: storeNames[s])
        pump(c)
    }
}
