import TeaBagCore

/// The sync engine of one channel (docs/sync.md#oplog-rules): the local oplogs, a mirror of
/// each store's, the outboxes of own ops, and the decisions of sync and
/// prune. It does no I/O and reads no clock: the caller passes `now`,
/// performs the `SyncRequest`s it hands out and reports their outcomes, so
/// the same code runs under the HTTP runtime and the deterministic
/// simulation. Not thread-safe; one actor owns it.
public final class ChannelSync {
    public let channel: String
    public private(set) var stores: [String]
    let policy: SyncPolicy
    private let node: NodeIdentity
    private let storage: any ClientStorage
    private let reducers: @Sendable (String) -> (any Reducer)?
    /// Where folds run; nil: inline, always (the simulation).
    private let folds: FoldGuard?
    /// Paths whose value waits for a fold off this engine (a slow type).
    private var staleKeys: Set<PathKey> = []
    /// Where readable values are published for reads off the owning actor.
    private let held: HeldValues?

    var paths: [PathKey: PathReplica] = [:]
    private var outboxes: [String: [OutboxEntry]] = [:]
    /// Own ops waiting per store and path: sync leaves a path's own ops to
    /// the outbox while any waits.
    private var ownWaiting: [String: [PathKey: Int]] = [:]
    private var links: [String: StoreLink] = [:]
    private var pruneCandidates: Set<PathKey> = []
    private var dirtyOplogs: Set<PathKey> = []
    private var events: [SyncEvent] = []
    /// Prepared writes in seq order, with the storage's answer once known.
    private var pendingWrites: [(write: PreparedWrite, durable: Bool?)] = []
    /// Per path with prepared writes: how many, and the newest one's date.
    private var pendingDates: [PathKey: (count: Int, newest: Int64)] = [:]

    /// Restores what `storage` holds: cached oplogs, then the outbox, whose
    /// ops are acknowledged writes and so are merged into the local oplogs.
    public init(channel: String, stores: [String], node: NodeIdentity, storage: any ClientStorage,
                policy: SyncPolicy = SyncPolicy(), folds: FoldGuard? = nil, held: HeldValues? = nil,
                reducers: @escaping @Sendable (String) -> (any Reducer)?) throws {
        self.channel = channel
        self.folds = folds
        self.held = held
        self.stores = []
        self.policy = policy
        self.node = node
        self.storage = storage
        self.reducers = reducers
        for (key, ops) in try storage.oplogs(channel: channel) {
            var replica = PathReplica()
            replica.local = Oplog(merging: ops)
            replica.loaded = true
            paths[key] = replica
        }
        let saved = try storage.outboxes(channel: channel)
        for (store, entries) in saved {
            for entry in entries {
                enqueued(entry, store: store)
                paths[entry.key, default: PathReplica()].local.merge(entry.op)
            }
        }
        for key in paths.keys {
            paths[key]!.loaded = true
            refreshValue(key, announce: false)
        }
        try setStores(stores)
    }

    // MARK: stores

    /// The mount table changed: new stores start with empty mirrors and an
    /// empty outbox (sync brings them every op, own ones included, once no
    /// own op waits for them); removed stores are forgotten.
    public func setStores(_ newStores: [String]) throws {
        let removed = Set(stores).subtracting(newStores)
        for store in removed {
            try storage.dropOutbox(channel: channel, store: store)
            outboxes[store] = nil
            ownWaiting[store] = nil
            links[store] = nil
            for key in paths.keys { paths[key]!.mirrors[store] = nil }
        }
        stores = newStores
        for store in newStores where links[store] == nil {
            links[store] = StoreLink(needsSync: Set(paths.keys), needsFetch: Set(paths.keys))
        }
        pruneCandidates.formUnion(paths.keys)
    }

    // MARK: reads and writes

    /// Starts holding a path (the first read): a fetch from every store.
    /// Returns the value when it is already loaded.
    public func hold(_ key: PathKey) throws(TeaBagError) -> PathValue? {
        guard reducers(key.type) != nil else { throw .typeNotRegistered(key.type) }
        if paths[key] == nil { startHolding(key) }
        guard paths[key]!.loaded else { return nil }
        if paths[key]!.value == nil && !paths[key]!.stale { refreshValue(key, announce: false) }
        return paths[key]!.stale ? nil : paths[key]!.value
    }

    public func isLoaded(_ key: PathKey) -> Bool { paths[key]?.loaded ?? false }
    /// Loaded, and its value folded (not waiting for a slow reducer).
    public func isReadable(_ key: PathKey) -> Bool { paths[key].map { $0.loaded && !$0.stale } ?? false }
    public func value(_ key: PathKey) -> PathValue? { paths[key]?.value }
    public var heldKeys: [PathKey] { paths.keys.sorted() }
    public func oplog(_ key: PathKey) -> Oplog? { paths[key]?.local }

    /// A local write: a new op, durable in the outbox of every store before
    /// this returns, applied locally at once.
    public func write(_ key: PathKey, payload: JSON, now: Int64) throws(TeaBagError) -> (op: Op, value: PathValue) {
        let prepared = try prepareWrite(key, payload: payload, now: now)
        let seq = prepared.entry.seq
        do { try storage.enqueue(channel: channel, entry: prepared.entry, stores: prepared.stores, nextSeq: seq + 1) } catch {
            _ = finishWrite(seq, durable: false)
            throw Self.storageFailure(error)
        }
        let applied = finishWrite(seq, durable: true)
        // Never stale here: without a FoldGuard every fold is inline.
        return (prepared.entry.op, applied.first { $0.seq == seq }!.value!)
    }

    /// A write the storage could not keep.
    public static func storageFailure(_ error: any Error) -> TeaBagError {
        TeaBagError(.clientStorage, "could not keep the write on disk (\(error)); nothing was written — check the data directory's space and permissions")
    }

    /// The first half of a write made durable elsewhere (the client's
    /// group commit): the op, numbered and dated after every earlier write
    /// of its path, pending until `finishWrite` reports the storage's answer.
    public func prepareWrite(_ key: PathKey, payload: JSON, now: Int64) throws(TeaBagError) -> PreparedWrite {
        guard let reducer = reducers(key.type) else { throw .typeNotRegistered(key.type) }
        do { try reducer.validate(payload: payload) } catch {
            throw TeaBagError(.storeInvalidOp, "the \(key.type) reducer refuses this payload: \(error.message)", status: 400)
        }
        let seq = node.claimSeq(now: now)
        // Taken now: a write whose commit fails leaves a gap, never a reuse.
        node.used(seq)
        let newest = max((paths[key]?.local ?? Oplog()).newestDate, pendingDates[key]?.newest ?? .min)
        let date = OpFactory.date(correctedNow: now, newestLocalDate: newest)
        let op = OpFactory.payloadOp(payload: payload, node: node.record.id, seq: seq, date: date)
        let prepared = PreparedWrite(entry: OutboxEntry(seq: seq, key: key, op: op), stores: stores)
        pendingDates[key] = ((pendingDates[key]?.count ?? 0) + 1, date)
        pendingWrites.append((prepared, nil))
        return prepared
    }

    /// The storage's answer for a prepared write. Writes are applied in seq
    /// order (so the outboxes stay in seq order): this applies every pending
    /// write whose answer is known and that no unanswered one precedes, and
    /// returns their values; a write not durable is dropped.
    /// A value is nil when the path's type is slow: it waits for a fold.
    public func finishWrite(_ seq: Int64, durable: Bool) -> [(seq: Int64, key: PathKey, value: PathValue?)] {
        if let index = pendingWrites.firstIndex(where: { $0.write.entry.seq == seq }) { pendingWrites[index].durable = durable }
        var applied: [(seq: Int64, key: PathKey, value: PathValue?)] = []
        var done = 0
        while done < pendingWrites.count, let isDurable = pendingWrites[done].durable {
            let write = pendingWrites[done].write
            done += 1
            let key = write.entry.key
            if let pending = pendingDates[key] { pendingDates[key] = pending.count > 1 ? (pending.count - 1, pending.newest) : nil }
            if isDurable { applied.append((write.entry.seq, key, apply(write))) }
        }
        pendingWrites.removeFirst(done)
        return applied
    }

    /// Whether the write of `seq` was applied (or dropped): no longer pending.
    public func finishedWrite(_ seq: Int64) -> Bool { !pendingWrites.contains { $0.write.entry.seq == seq } }

    private func apply(_ write: PreparedWrite) -> PathValue? {
        let (entry, key, op) = (write.entry, write.entry.key, write.entry.op)
        // A store that left the channel meanwhile gets nothing.
        for store in write.stores where links[store] != nil { enqueued(entry, store: store) }
        // Changed in place: a copy taken out of `paths` would make the merge
        // copy the whole oplog (copy-on-write) on every write.
        // A path first written here is held like one first read: without
        // the fetches its mirrors stay unknown, and it never syncs or prunes.
        if paths[key] == nil { startHolding(key) }
        let merged = paths[key]!.local.merge(op)
        paths[key]!.loaded = true
        // Appended at the end (the usual case): fold just this op onto the value.
        let appended = merged == .added && Bytewise.equal(paths[key]!.local.ops.last?.sha, op.sha)
        localChanged(key, appended: appended ? op : nil, compare: .ownWrite(outboxes: write.stores))
        return paths[key]!.stale ? nil : paths[key]!.value
    }

    // MARK: requests

    /// The requests to make now; each is marked in flight until its outcome
    /// is reported.
    public func requests(now: Int64) -> [SyncRequest] {
        var out: [SyncRequest] = []
        prune(now: now)
        for store in stores {
            guard var link = links[store], link.isReady(now: now) else { continue }
            for key in link.relays.takeDue(now: now) { link.needsSync.insert(key) }
            if !link.delivering, let outbox = outboxes[store], !outbox.isEmpty {
                link.delivering = true
                out.append(.deliver(store: store, entries: Array(outbox.prefix(policy.batchLimit))))
            }
            let room = policy.fetchesPerStore - link.fetchesInFlight
            let toFetch = room > 0 ? link.needsFetch.sorted().prefix(room) : []
            for key in toFetch {
                link.needsFetch.remove(key)
                guard paths[key] != nil, case .unknown = paths[key]!.mirror(store) else { continue }
                paths[key]!.mirrors[store] = .fetching(generation: link.generation, buffered: [])
                paths[key]!.unconfirmed[store] = nil
                link.fetchesInFlight += 1
                out.append(.fetch(store: store, key: key, generation: link.generation))
            }
            if !link.pushing {
                let items = lacking(at: store, link: &link)
                if !items.isEmpty {
                    link.pushing = true
                    out.append(.push(store: store, items: items))
                }
            }
            links[store] = link
        }
        return out
    }

    /// The earliest time a store that failed may be asked again, or a relay
    /// falls due (nil: none waits).
    public func nextRetry(now: Int64) -> Int64? {
        links.values.compactMap { $0.isReady(now: now) ? $0.relays.nextDue : $0.retryAt }.min()
    }

    /// What `store` lacks of the local oplogs whose keys changed: other
    /// nodes' ops, and own ops only once none waits in its outbox for that
    /// path (so that sync never overtakes the outbox's `seq` order).
    private func lacking(at store: String, link: inout StoreLink) -> [PathOp] {
        var items: [PathOp] = []
        let waiting = ownWaiting[store] ?? [:]
        let ownNode = node.record.id
        for key in link.needsSync.sorted() {
            guard items.count < policy.batchLimit else { break }
            link.needsSync.remove(key)
            guard let replica = paths[key], let mirror = replica.mirror(store).oplog else { continue }
            let refused = replica.refusedAt[store] ?? []
            let ownWaiting = waiting[key, default: 0] > 0
            var wanted: [Op] = []
            // The base, then the payload ops, without building `wire` (a copy
            // of every op): this runs at every pump for each changed path.
            func consider(_ op: Op) {
                if ownWaiting && op.node == ownNode {
                    link.heldBack.insert(key)
                    return
                }
                if !refused.isEmpty && refused.contains(op.sha) { return }
                if MergeRules.decide(op, base: mirror.base, alreadyHeld: mirror.holds(sha: op.sha)) != .noop { wanted.append(op) }
            }
            consider(replica.local.base)
            for op in replica.local.ops { consider(op) }
            // Bases first, then each node's ops in seq order: a store never
            // sees a node's later op before its earlier one from us.
            wanted.sort { a, b in
                if a.isValueOp != b.isValueOp { return a.isValueOp }
                return (a.node ?? "", a.seq ?? 0, a.date, a.sha) < (b.node ?? "", b.seq ?? 0, b.date, b.sha)
            }
            items += wanted.map { PathOp(key: key, op: $0) }
        }
        return items
    }

    // MARK: outcomes

    public func fetched(store: String, key: PathKey, generation: Int, _ result: Result<[Op], TeaBagError>, now: Int64) {
        guard var link = links[store] else { return }
        link.fetchesInFlight -= 1
        defer { links[store] = link }
        guard paths[key] != nil else { return }
        switch result {
        case .failure(let error):
            // Only this fetch's own mirror: after a stream reset a newer one
            // may be in flight with ops its stream buffered (seed 4245).
            if case .fetching(generation, _) = paths[key]!.mirror(store) {
                paths[key]!.mirrors[store] = .unknown
                link.needsFetch.insert(key)
            }
            link.failed(error, now: now, policy: policy)
            paths[key]!.fetchFailures.insert(store)
            if !paths[key]!.loaded, Set(stores).isSubset(of: paths[key]!.fetchFailures) {
                events.append(.fetchFailedEverywhere(key, error))
            }
        case .success(let ops):
            link.succeeded()
            paths[key]!.fetchFailures.remove(store)
            guard case .fetching(let expected, let buffered) = paths[key]!.mirror(store), expected == generation,
                  generation == link.generation else {
                // Reset meanwhile: the ops are real, the snapshot may be stale.
                // A fetch of the new generation may be in flight: leave it and
                // what its stream buffered alone (seed 84 of the simulation).
                if case .unknown = paths[key]!.mirror(store) { link.needsFetch.insert(key) }
                mergeIntoLocal(key, ops)
                return
            }
            paths[key]!.mirrors[store] = .known(Oplog(merging: ops + buffered))
            link.needsSync.insert(key)
            pruneCandidates.insert(key)
            let wasLoaded = paths[key]!.loaded
            paths[key]!.loaded = true
            if !mergeIntoLocal(key, ops) && !wasLoaded { refreshValue(key, announce: true) }
        }
    }

    public func delivered(store: String, entries: [OutboxEntry], _ result: Result<[StoreAnswer], TeaBagError>, now: Int64) {
        guard var link = links[store] else { return }
        link.delivering = false
        defer { links[store] = link }
        guard case .success(let answers) = result else {
            if case .failure(let error) = result { link.failed(error, now: now, policy: policy) }
            return
        }
        var done: [Int64] = []
        var retry: TeaBagError?
        for (entry, answer) in zip(entries, answers) {
            switch answer {
            case .accepted(let noop):
                done.append(entry.seq)
                if !noop { paths[entry.key]?.learnAccepted(entry.op, at: store) }
                pruneCandidates.insert(entry.key)
            case .refused(let error):
                refuseOwn(entry, error)
            case .retryLater(let error):
                retry = error
            }
            if retry != nil { break }
        }
        if !done.isEmpty {
            cacheBeforeLeaving(entries.filter { done.contains($0.seq) }, store: store)
            // Durable first: a crash between the two resends, and a resend is a noop.
            try? storage.dequeue(channel: channel, store: store, seqs: done)
            removeFromOutbox(store: store, seqs: Set(done))
            // Own ops sync held back while these waited may go now.
            for entry in entries where ownWaiting[store]?[entry.key] == nil && link.heldBack.remove(entry.key) != nil {
                link.needsSync.insert(entry.key)
            }
        }
        if let retry { link.failed(retry, now: now, policy: policy) } else { link.succeeded() }
    }

    public func pushed(store: String, items: [PathOp], _ result: Result<[StoreAnswer], TeaBagError>, now: Int64) {
        guard var link = links[store] else { return }
        link.pushing = false
        defer { links[store] = link }
        for item in items { link.needsSync.insert(item.key) }
        switch result {
        case .failure(let error):
            link.failed(error, now: now, policy: policy)
        case .success(let answers):
            var retry: TeaBagError?
            for (item, answer) in zip(items, answers) {
                switch answer {
                case .accepted(let noop):
                    if !noop { paths[item.key]?.learnAccepted(item.op, at: store) }
                    pruneCandidates.insert(item.key)
                case .refused(let error):
                    paths[item.key]?.refusedAt[store, default: []].insert(item.op.sha)
                    events.append(.storesDisagree(item.key, store: store, item.op, error))
                case .retryLater(let error):
                    retry = error
                }
            }
            if let retry { link.failed(retry, now: now, policy: policy) } else { link.succeeded() }
        }
    }

    // MARK: streams

    public func streamed(store: String, key: PathKey, op: Op, now: Int64) {
        if paths[key] == nil {
            guard policy.followStreamedPaths else { return }
            startHolding(key)
        }
        // The store's mirror only grew (or dropped ops its new base covers):
        // it lacks nothing it did not lack before, so it is not compared
        // again; the other stores are, after the relay delay, if the op
        // changed the local oplog. Comparing at every event was a scan of
        // the path per store per op (an own op coming back, most often).
        paths[key]!.learnStreamed(op, at: store)
        pruneCandidates.insert(key)
        mergeIntoLocal(key, [op], compare: .relayed(from: store, now: now))
    }

    /// The stream of `store` (re)connected; unless it resumed where it left
    /// off, what the mirrors say may have missed ops: fetch again.
    public func streamConnected(store: String, resumed: Bool) {
        links[store]?.streamConnected = true
        if !resumed { resetMirrors(of: store) }
    }

    public func streamResync(store: String) { resetMirrors(of: store) }

    public func streamDisconnected(store: String) { links[store]?.streamConnected = false }

    private func resetMirrors(of store: String) {
        links[store]?.generation += 1
        links[store]?.needsFetch = Set(paths.keys)
        for key in paths.keys { paths[key]!.mirrors[store] = .unknown }
    }

    private func startHolding(_ key: PathKey) {
        paths[key] = PathReplica()
        for store in stores { links[store]?.needsFetch.insert(key) }
    }

    // MARK: outbox bookkeeping

    private func enqueued(_ entry: OutboxEntry, store: String) {
        outboxes[store, default: []].append(entry)
        ownWaiting[store, default: [:]][entry.key, default: 0] += 1
    }

    private func removeFromOutbox(store: String, seqs: Set<Int64>) {
        guard let count = outboxes[store]?.count, count > 0 else { return }
        // Deliveries take from the head: when `seqs` is exactly a prefix, drop
        // it in place rather than copying the rest of a long outbox each batch.
        var prefix = 0
        while prefix < count, prefix < seqs.count, seqs.contains(outboxes[store]![prefix].seq) { prefix += 1 }
        if prefix == seqs.count {
            for index in 0..<prefix {
                let key = outboxes[store]![index].key
                ownWaiting[store]?[key, default: 1] -= 1
                if ownWaiting[store]?[key] == 0 { ownWaiting[store]?[key] = nil }
            }
            outboxes[store]!.removeFirst(prefix)
            return
        }
        guard let outbox = outboxes[store] else { return }
        var kept: [OutboxEntry] = []
        kept.reserveCapacity(outbox.count)
        for entry in outbox {
            if seqs.contains(entry.seq) {
                ownWaiting[store]?[entry.key, default: 1] -= 1
                if ownWaiting[store]?[entry.key] == 0 { ownWaiting[store]?[entry.key] = nil }
            } else {
                kept.append(entry)
            }
        }
        outboxes[store] = kept
    }

    // MARK: local state

    /// Merges store ops into the local oplog; true when the value was refreshed.
    @discardableResult
    private func mergeIntoLocal(_ key: PathKey, _ ops: [Op], compare: Comparison = .everywhere) -> Bool {
        var changed = false
        var appendedOnly = true
        for op in ops {
            node.observe(op)
            let result = paths[key]!.local.merge(op)
            guard result.changed else { continue }
            changed = true
            if case .replacedBase = result { appendedOnly = false }
            if paths[key]!.local.ops.last?.sha != op.sha && !op.isValueOp { appendedOnly = false }
        }
        guard changed else { return false }
        if ops.count == 1, appendedOnly, let op = ops.first, !op.isValueOp {
            localChanged(key, appended: op, compare: compare)
        } else {
            localChanged(key, compare: compare)
        }
        return true
    }

    /// Which stores a change of a local oplog is compared with.
    enum Comparison {
        /// Every store, now.
        case everywhere
        /// An op from `from`'s stream: the other stores after the relay
        /// delay; `from` not at all, as it holds the op and its mirror only
        /// grew (or dropped ops its new base covers), so it lacks nothing
        /// it did not lack before.
        case relayed(from: String, now: Int64)
        /// An own write: the stores whose outbox took it get it from there
        /// (and lack nothing else they did not lack before); a store that
        /// joined since the write was prepared, now.
        case ownWrite(outboxes: [String])
    }

    /// After any change of a local oplog: new value, sync (see `Comparison`), maybe prune.
    private func localChanged(_ key: PathKey, appended: Op? = nil, compare: Comparison = .everywhere) {
        dirtyOplogs.insert(key)
        pruneCandidates.insert(key)
        for store in stores {
            switch compare {
            case .relayed(let from, let now) where policy.relayDelayMs > 0:
                if store != from { links[store]?.relays.add(key, due: now + policy.relayDelayMs) }
            case .ownWrite(let outboxes) where outboxes.contains(store):
                break
            default:
                links[store]?.needsSync.insert(key)
            }
        }
        if paths[key]!.loaded { refreshValue(key, announce: true, appended: appended) }
    }

    /// Refolds (or folds just the appended op onto the cached value) and
    /// announces the value when it really changed. A type the `FoldGuard`
    /// finds slow is not folded here: the path goes stale, and the runtime
    /// folds it elsewhere (`takeStaleFolds`, `folded`).
    private func refreshValue(_ key: PathKey, announce: Bool, appended: Op? = nil) {
        guard let reducer = reducers(key.type), var replica = paths[key] else { return }
        let previous = replica.value
        let folded: JSON?
        if let appended, let previous, !replica.stale, replica.local.ops.count >= 2 {
            let state = previous.value
            folded = fold(key.type, ops: 1) { Fold.fold(reducer, state: state, ops: [appended][...]).value }
        } else {
            let oplog = replica.local
            folded = replica.stale && folds != nil ? nil : fold(key.type, ops: oplog.ops.count) { oplog.value(using: reducer).value }
        }
        guard let folded else {
            replica.stale = true
            replica.foldGeneration += 1
            paths[key] = replica
            staleKeys.insert(key)
            held?.set(channel, key, nil)
            return
        }
        setValue(key, &replica, folded, announce: announce)
    }

    private func fold(_ type: String, ops: Int, _ work: @escaping @Sendable () -> JSON) -> JSON? {
        guard let folds else { return work() }
        return folds.fold(type, ops: ops, work)
    }

    private func setValue(_ key: PathKey, _ replica: inout PathReplica, _ folded: JSON, announce: Bool) {
        let previous = replica.value
        let newest = replica.local.ops.last ?? replica.local.base
        replica.value = PathValue(value: folded, date: newest.date, sha: newest.sha, ops: replica.local.payloadCount)
        replica.stale = false
        paths[key] = replica
        if replica.loaded { held?.set(channel, key, replica.value) }
        if announce, previous?.value != folded || previous == nil {
            events.append(.valueChanged(key, replica.value!))
        }
    }

    /// A fold to make off the engine: the path's oplog as it is now.
    public struct StaleFold: Sendable {
        public let key: PathKey
        public let generation: Int
        public let reducer: any Reducer
        public let oplog: Oplog
    }

    /// The stale paths marked since the last call, each as it is now.
    public func takeStaleFolds() -> [StaleFold] {
        defer { staleKeys = [] }
        return staleKeys.sorted().compactMap(staleFold)
    }

    /// `key` as it is now, if it still waits for a fold.
    public func staleFold(_ key: PathKey) -> StaleFold? {
        guard let replica = paths[key], replica.stale, let reducer = reducers(key.type) else { return nil }
        return StaleFold(key: key, generation: replica.foldGeneration, reducer: reducer, oplog: replica.local)
    }

    /// The value folded elsewhere for `generation`; dropped when the path
    /// changed meanwhile (a newer fold follows).
    public func folded(_ key: PathKey, generation: Int, value: JSON) {
        guard var replica = paths[key], replica.stale, replica.foldGeneration == generation else { return }
        setValue(key, &replica, value, announce: replica.loaded)
    }

    /// An own op a store refused for good: out of every outbox and the local
    /// oplog, reported, never retried.
    private func refuseOwn(_ entry: OutboxEntry, _ error: TeaBagError) {
        // Every store it was sent to refuses it; the first refusal settles it.
        guard outboxes.values.contains(where: { $0.contains { $0.seq == entry.seq } }) else { return }
        let removed = paths[entry.key]?.local.remove(sha: entry.op.sha) != nil
        // Out of the cache before out of the outbox: a cache still holding it
        // after a restart would have sync push it again, forever refused.
        if removed { cache([entry.key]) }
        try? storage.drop(channel: channel, seq: entry.seq)
        for store in outboxes.keys { removeFromOutbox(store: store, seqs: [entry.seq]) }
        if removed { localChanged(entry.key) }
        events.append(.writeFailed(entry.key, entry.op, error))
    }

    /// Own ops leaving their last outbox live on only in the local oplog:
    /// the cache must hold them first, or a restart before the write-behind
    /// flush answers reads without them until a fetch brings them back.
    /// Just those ops are added (the flush rewrites what else changed): a
    /// whole path's oplog per delivery was a tenth of a busy agent's time.
    /// An op a local prune covered meanwhile lives on only in that prune's
    /// base, which the cache may not hold yet: such a path is saved whole.
    private func cacheBeforeLeaving(_ entries: [OutboxEntry], store: String) {
        guard storage.keepsOplogs else { return }
        let leaving = entries.filter { entry in
            !outboxes.contains { other, outbox in other != store && Self.holds(outbox, seq: entry.seq) }
        }
        let (held, covered) = leaving.reduce(into: ([OutboxEntry](), Set<PathKey>())) { split, entry in
            guard let local = paths[entry.key]?.local else { return }
            if local.holds(sha: entry.op.sha) { split.0.append(entry) } else { split.1.insert(entry.key) }
        }
        try? storage.addToOplogs(channel: channel, held.map { (key: $0.key, op: $0.op) })
        cache(covered)
    }

    /// Outboxes are in `seq` order: a binary search, not a scan per entry.
    private static func holds(_ outbox: [OutboxEntry], seq: Int64) -> Bool {
        var low = 0
        var high = outbox.count
        while low < high {
            let mid = (low + high) / 2
            if outbox[mid].seq < seq { low = mid + 1 } else { high = mid }
        }
        return low < outbox.count && outbox[low].seq == seq
    }

    private func cache(_ keys: Set<PathKey>) {
        guard !keys.isEmpty, storage.keepsOplogs else { return }
        try? storage.saveOplogs(channel: channel, keys.sorted().compactMap { key in paths[key].map { (key: key, ops: $0.local.wire) } })
    }

    /// docs/sync.md#oplog-rules: a covering value-op once every store holds exactly the local
    /// set and there are enough payload ops. It replaces the local base at
    /// once; sync then carries it to every store like any op they lack.
    private func prune(now: Int64) {
        let candidates = pruneCandidates
        pruneCandidates = []
        for key in candidates.sorted() {
            guard let replica = paths[key], replica.loaded, !replica.stale, replica.local.payloadCount >= policy.pruneMinOps,
                  !stores.isEmpty, let value = replica.value, replica.allStoresHoldLocal(stores) else { continue }
            let date = OpFactory.date(correctedNow: now, newestLocalDate: replica.local.newestDate)
            let prune = OpFactory.valueOp(value: value.value, covers: replica.local.pruneCovers, date: date)
            paths[key]!.local.merge(prune)
            localChanged(key)
            events.append(.pruned(key, prune))
        }
    }

    // MARK: for the runtime

    /// Events since the last call, in order.
    public func takeEvents() -> [SyncEvent] {
        defer { events = [] }
        return events
    }

    /// Oplogs changed since the last call, for the write-behind cache.
    public func takeDirtyOplogs() -> [(key: PathKey, ops: [Op])] {
        defer { dirtyOplogs = [] }
        guard storage.keepsOplogs else { return [] }
        return dirtyOplogs.sorted().compactMap { key in paths[key].map { (key: key, ops: $0.local.wire) } }
    }

    public struct StoreStatus: Sendable, Equatable {
        public let store: String
        public let connected: Bool
        public let outbox: Int
        public let lastError: TeaBagError?
        public let retrying: Bool
    }

    public func status(now: Int64) -> [StoreStatus] {
        stores.map { store in
            let link = links[store] ?? StoreLink()
            return StoreStatus(store: store, connected: link.streamConnected, outbox: outboxes[store]?.count ?? 0,
                               lastError: link.lastError, retrying: !link.isReady(now: now))
        }
    }

    public func outboxDepth(_ store: String) -> Int { outboxes[store]?.count ?? 0 }

    /// Nothing waits to be sent or answered: no outbox entry, no request in
    /// flight, every mirror known and in step with the local oplog.
    public var isQuiet: Bool {
        guard pendingWrites.isEmpty else { return false }
        for store in stores {
            guard let link = links[store], !link.delivering, !link.pushing, link.fetchesInFlight == 0,
                  (outboxes[store] ?? []).isEmpty else { return false }
        }
        return paths.values.allSatisfy { $0.allStoresHoldLocal(stores) }
    }
}

/// A local write numbered and dated, waiting for the storage.
public struct PreparedWrite: Sendable {
    public let entry: OutboxEntry
    /// The stores whose outboxes it goes to.
    public let stores: [String]
}
