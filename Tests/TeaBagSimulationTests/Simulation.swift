import TeaBag
import TeaBagCore
import TeaBagTestSupport

/// One seeded run: clients, stores and a network over virtual time. The
/// engine under test is the real `ChannelSync`; everything around it is
/// simulated here. Faults for the first 40 s, then a healed network until
/// every engine is quiet; the invariants are checked after every event and
/// convergence at the end.
final class Simulation {
    static let startTime: Int64 = 1_700_000_000_000
    static let requestTimeout: Int64 = 3_000
    /// Events allowed after healing before the run counts as stuck.
    static let quiescenceBound = 100_000

    let seed: UInt64
    let scenario: Scenario
    var rng: SplitMix64
    let keys: [PathKey]
    let storeNames: [String]
    let storeIndex: [String: Int]
    let policy: SyncPolicy
    var stores: [SimStore] = []
    var clients: [SimClient] = []
    var queue = EventQueue()
    var time = Simulation.startTime
    var network: NetworkFaults
    var healed = false
    var healStep = 0
    var steps = 0
    var nextRequestID = 0
    var writeCount = 0
    var trace: Trace
    var failure: String?
    /// Ops some store refused for good. A prune may cover such an op (a
    /// later seq of its node was accepted) before its origin hears of the
    /// refusal, dropping it from the origin's value first: not a loss.
    var refusedByStores: Set<String> = []
    var quiet = false
    var coverage = Coverage()
    /// Who an event touched, so only they are checked after it.
    var touchedClients: [Bool] = []
    var touchedStores: [Bool] = []

    init(seed: UInt64, verbose: Bool = false) {
        self.seed = seed
        var rng = SplitMix64(seed: seed)
        scenario = Scenario.random(&rng)
        self.rng = rng
        keys = (0..<scenario.paths).map { try! PathKey(type: ShaLog.type, path: "/p\($0)") }
        storeNames = (0..<scenario.stores).map { "s\($0)" }
        storeIndex = Dictionary(uniqueKeysWithValues: storeNames.enumerated().map { ($1, $0) })
        var policy = SyncPolicy()
        policy.pruneMinOps = scenario.pruneMinOps
        self.policy = policy
        network = scenario.network
        trace = Trace(verbose: verbose)
    }

    /// Runs to quiescence or to the first broken invariant; nil when all held.
    func run() -> String? {
        setUp()
        while failure == nil, let (at, event) = queue.pop() {
            time = at
            steps += 1
            handle(event)
            if failure == nil { checkTouched() }
            guard failure == nil, healed else { continue }
            if isQuiescent {
                quiet = true
                checkConvergence()
                break
            }
            if steps - healStep > Self.quiescenceBound {
                fail("no quiescence \(Self.quiescenceBound) events after healing\n" + stateSummary())
            }
        }
        if failure == nil, !quiet { fail("nothing left to happen, yet not quiet\n" + stateSummary()) }
        guard let failure else { return nil }
        return "seed \(seed) (replay: TEABAG_SIM_SEED=\(seed)): \(failure)\nscenario: \(scenario)\nlast events:\n"
            + trace.lines.joined(separator: "\n")
    }

    func fail(_ message: String) {
        if failure == nil { failure = message }
    }

    func note(_ line: @escaping () -> String) { trace.add(time, line) }

    // MARK: setup

    private func setUp() {
        stores = storeNames.map { SimStore(name: $0, retention: scenario.retention) }
        clients = scenario.clients.enumerated().map { index, setup in
            SimClient(index: index, nodeID: String(rng.next() | 1 << 63, radix: 16), cachesOplogs: setup.cachesOplogs,
                      skew: setup.skew, clockMode: setup.clock, stores: stores.count)
        }
        touchedClients = Array(repeating: false, count: clients.count)
        touchedStores = Array(repeating: false, count: stores.count)
        let start = Self.startTime
        for _ in 0..<scenario.writes { queue.push(start + rng.ms(0...Scenario.workWindow), .write(client: rng.int(0...clients.count - 1))) }
        for _ in 0..<scenario.reads { queue.push(start + rng.ms(0...Scenario.workWindow), .read(client: rng.int(0...clients.count - 1))) }
        let faultWindow = 0...(Scenario.healAt - 5_000)
        for _ in 0..<scenario.storeCrashes { queue.push(start + rng.ms(faultWindow), .crashStore(rng.int(0...stores.count - 1))) }
        for _ in 0..<scenario.clientCrashes { queue.push(start + rng.ms(faultWindow), .crashClient(rng.int(0...clients.count - 1))) }
        for c in clients.indices { queue.push(start + rng.ms(100...2_000), .flushCache(client: c)) }
        queue.push(start + Scenario.healAt, .heal)
        for c in clients.indices { startClient(c) }
    }

    // MARK: events

    private func handle(_ event: SimEvent) {
        switch event {
        case .arrive(let id, let c, let incarnation, let s, let request, let copy):
            storeReceives(id: id, client: c, incarnation: incarnation, store: s, request: request, copy: copy)
        case .answer(let id, let c, let incarnation, let s, let storeEpoch, let outcome):
            clientReceives(id: id, client: c, incarnation: incarnation, store: s, storeEpoch: storeEpoch, outcome: outcome)
        case .timeout(let id, let c, let incarnation):
            timedOut(id: id, client: c, incarnation: incarnation)
        case .streamEntry(let c, let s, let epoch, let entry):
            streamEntry(client: c, store: s, epoch: epoch, entry: entry)
        case .streamResync(let c, let s, let epoch):
            streamResync(client: c, store: s, epoch: epoch)
        case .streamConnect(let c, let s, let incarnation):
            streamConnect(client: c, store: s, incarnation: incarnation)
        case .streamBreak(let c, let s, let epoch):
            guard !healed, clients[c].streams[s].up, clients[c].streams[s].epoch == epoch else { return }
            note { "c\(c) ✂ s\(s) stream breaks" }
            breakStream(client: c, store: s)
        case .wake(let c, let incarnation):
            guard incarnation == clients[c].incarnation else { return }
            if clients[c].pendingWake == time { clients[c].pendingWake = nil }
            pump(c)
        case .write(let c): write(client: c)
        case .read(let c):
            guard clients[c].isUp else { return }
            let key = rng.pick(keys)
            note { "c\(c) reads \(key.path)" }
            hold(c, key)
            pump(c)
        case .flushCache(let c):
            clients[c].flushCache()
            if !healed { queue.push(time + rng.ms(200...3_000), .flushCache(client: c)) }
        case .crashClient(let c):
            guard !healed, clients[c].isUp else { return }
            note { "c\(c) CRASHES" }
            coverage.clientCrashes += 1
            clients[c].crash()
            queue.push(time + rng.ms(200...5_000), .restartClient(c))
        case .restartClient(let c):
            guard !clients[c].isUp else { return }
            startClient(c)
        case .crashStore(let s):
            guard !healed, stores[s].up else { return }
            note { "s\(s) CRASHES" }
            coverage.storeCrashes += 1
            stores[s].crash()
            for c in clients.indices where clients[c].streams[s].up { breakStream(client: c, store: s) }
            queue.push(time + rng.ms(500...8_000), .restartStore(s))
        case .restartStore(let s):
            guard !stores[s].up else { return }
            note { "s\(s) restarts" }
            stores[s].restart()
        case .heal:
            heal()
        }
    }

    private func write(client c: Int) {
        let client = clients[c]
        guard let engine = client.engine else { return }
        let key = rng.pick(keys)
        let bad = rng.chance(scenario.badRate)
        writeCount += 1
        let payload: JSON = bad ? ["n": .number(Double(writeCount)), "bad": true] : ["n": .number(Double(writeCount))]
        do {
            let (op, _) = try engine.write(key, payload: payload, now: client.now(time))
            client.acked[key, default: []].append((op.sha, client.incarnation))
            if bad { client.bad.insert(op.sha) }
            note { "c\(c) writes \(key.path) \(op.sha.short) seq \(op.seq ?? 0) date +\(op.date - Self.startTime)\(bad ? " BAD" : "")" }
        } catch {
            fail("c\(c): write failed at once: \(error)")
        }
        pump(c)
    }

    private func hold(_ c: Int, _ key: PathKey) {
        do { _ = try clients[c].engine?.hold(key) } catch { fail("c\(c): hold \(key): \(error)") }
    }

    /// A (re)start: the engine from storage, the paths the program reads,
    /// streams to every store.
    private func startClient(_ c: Int) {
        let client = clients[c]
        do { try client.start(stores: storeNames, policy: policy) } catch {
            fail("c\(c): engine does not start from its storage: \(error)")
            return
        }
        note { "c\(c) starts (incarnation \(client.incarnation)), restored \(client.engine!.heldKeys.map(\.path))" }
        if client.incarnation > 0, !client.cachesOplogs, !client.engine!.heldKeys.isEmpty { coverage.outboxRestarts += 1 }
        for key in keys where healed || rng.chance(0.5) { hold(c, key) }
        for s in stores.indices { scheduleConnect(client: c, store: s, after: 1...50) }
        pump(c)
    }

    /// Faults stop, everything down comes back, every client reads every
    /// path; from here the run must reach quiescence.
    private func heal() {
        note { "HEAL" }
        healed = true
        healStep = steps
        network = .none
        for s in stores.indices where !stores[s].up { stores[s].restart() }
        for c in clients.indices {
            if clients[c].isUp {
                for key in keys { hold(c, key) }
                pump(c)
            } else {
                startClient(c)
            }
        }
    }

    // MARK: the client's pump

    /// What the runtime does after anything reached the engine: collect its
    /// events, send what it asks for, and set a timer for its next retry.
    func pump(_ c: Int) {
        let client = clients[c]
        touchedClients[c] = true
        guard let engine = client.engine else { return }
        let now = client.now(time)
        drainEvents(c)
        let requests = engine.requests(now: now)
        drainEvents(c)
        for request in requests { send(client: c, request) }
        if let retry = engine.nextRetry(now: now) {
            let at = max(time + 1, retry - (now - time))
            if client.pendingWake.map({ $0 > at }) ?? true {
                client.pendingWake = at
                queue.push(at, .wake(client: c, incarnation: client.incarnation))
            }
        }
    }

    private func drainEvents(_ c: Int) {
        let client = clients[c]
        guard let engine = client.engine else { return }
        for event in engine.takeEvents() {
            switch event {
            case .writeFailed(let key, let op, let error):
                note { "c\(c) writeFailed \(key.path) \(op.sha.short): \(error.name)" }
                // The first refusal settles a write: a second report would show the user two failures of one write.
                if !client.failed.insert(op.sha).inserted { fail("c\(c): write \(op.sha.short) at \(key.path) reported failed twice") }
                coverage.writeFailures += 1
                if !client.bad.contains(op.sha) { fail("c\(c): a good write \(op.sha.short) at \(key.path) reported failed: \(error)") }
            case .storesDisagree(let key, let store, let op, let error):
                fail("c\(c): storesDisagree at \(key.path), \(store) refuses \(op.sha.short) (\(error)), yet every store runs the same reducer")
            case .pruned(let key, let op):
                coverage.prunes += 1
                note { "c\(c) PRUNES \(key.path) → base \(op.sha.short) date +\(op.date - Self.startTime) covers \(Self.describe(op.covers))" }
            case .fetchFailedEverywhere(let key, let error):
                note { "c\(c) fetch of \(key.path) failed everywhere: \(error.name)" }
            case .valueChanged:
                break
            }
        }
    }

    var isQuiescent: Bool {
        guard queue.messages == 0, stores.allSatisfy(\.up) else { return false }
        return clients.allSatisfy { client in
            guard let engine = client.engine else { return false }
            return client.streams.allSatisfy(\.up) && engine.isQuiet
        }
    }
}
