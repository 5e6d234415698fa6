import Synchronization
import TeaBagCore

/// Writes handed in from any thread (the agent's event loops, `write`),
/// taken by the actor in one go: pushes that arrive together are made,
/// committed (one transaction) and applied together, with one task and one
/// actor turn for all of them rather than one each.
final class WriteInbox: Sendable {
    struct Write: Sendable {
        let channel: String
        let key: PathKey
        let payload: JSON
        let done: ValueAnswer
    }

    private let state = Mutex<(writes: [Write], scheduled: Bool)>(([], false))

    /// Adds a write; true when no drain is on its way, so the caller must start one.
    func add(_ write: Write) -> Bool {
        state.withLock { state in
            state.writes.append(write)
            if state.scheduled { return false }
            state.scheduled = true
            return true
        }
    }

    /// Everything waiting; the next `add` starts a new drain.
    func take() -> [Write] {
        state.withLock { state in
            let writes = state.writes
            state.writes = []
            state.scheduled = false
            return writes
        }
    }
}

extension TeaBagClient {
    /// A write from any thread: `done` is called once, on this actor, with
    /// the value its op produced once the op is on disk and applied, or with
    /// the error (a `TeaBagError`) that kept it from being made or kept.
    /// Unlike `write`, it does not wait for a mount table not read yet.
    public nonisolated func submitWrite(_ channel: String, _ key: PathKey, _ payload: JSON, done: @escaping ValueAnswer) {
        if inbox.add(WriteInbox.Write(channel: channel, key: key, payload: payload, done: done)) {
            Task { await self.takeWrites() }
        }
    }

    private struct Made {
        let write: WriteInbox.Write
        let engine: ChannelSync
        let prepared: PreparedWrite
        var seq: Int64 { prepared.entry.seq }
    }

    /// Makes the waiting writes' ops, commits them in one transaction (the
    /// writer adds whatever else is waiting), then applies them in `seq` order.
    private func takeWrites() async {
        var made: [Made] = []
        for write in inbox.take() {
            do {
                try checkUsable()
                let engine = try runtime(write.channel).engine
                made.append(Made(write: write, engine: engine, prepared: try engine.prepareWrite(write.key, payload: write.payload, now: correctedNow())))
            } catch {
                write.done(.failure(error))
            }
        }
        guard !made.isEmpty else { return }
        var failure: TeaBagError?
        do {
            try await writer.commit(made.map { .enqueue(channel: $0.write.channel, entry: $0.prepared.entry, stores: $0.prepared.stores, nextSeq: $0.seq + 1) })
        } catch {
            failure = ChannelSync.storageFailure(error)
        }
        let mine = Dictionary(uniqueKeysWithValues: made.map { ($0.seq, $0) })
        var answered: Set<Int64> = []
        var changed: Set<String> = []
        for item in made {
            for applied in item.engine.finishWrite(item.seq, durable: failure == nil) {
                changed.insert(item.write.channel)
                if let own = mine[applied.seq] {
                    answered.insert(applied.seq)
                    answer(own.write.done, own.write.channel, applied.key, applied.value)
                } else if let waiter = writeWaiters.removeValue(forKey: applied.seq) {
                    answer(waiter.done, item.write.channel, applied.key, applied.value)
                }
            }
        }
        // Pumped now rather than by a task: the ops start for the stores at once.
        for channel in changed { pumpNow(channel) }
        if let failure {
            for item in made { item.write.done(.failure(failure)) }
            return
        }
        localWrites += made.count
        // The rest wait for an earlier write of another batch, whose drain applies them.
        for item in made where !answered.contains(item.seq) {
            if item.engine.finishedWrite(item.seq) {
                // Applied, its type slow: the value comes with the fold.
                answer(item.write.done, item.write.channel, item.write.key, nil)
            } else {
                writeWaiters[item.seq] = (item.write.key, item.write.done)
            }
        }
    }
}
