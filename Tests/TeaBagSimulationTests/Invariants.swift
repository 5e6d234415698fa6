import TeaBag
import TeaBagCore

/// The promises of docs/sync.md#oplog-rules, checked on whatever the last event touched
/// (nothing else changed) and, at quiescence, convergence.
extension Simulation {
    func checkTouched() {
        for c in clients.indices where touchedClients[c] {
            touchedClients[c] = false
            checkClient(c)
        }
        for s in stores.indices where touchedStores[s] {
            touchedStores[s] = false
            checkStore(s)
        }
    }

    /// No sha folded twice; every write `write` returned, that no store
    /// refused, is in the local value whenever the path is loaded, across
    /// restarts too (see `SimClient.mustHold` for a client without cache).
    private func checkClient(_ c: Int) {
        let client = clients[c]
        guard let engine = client.engine else { return }
        for key in keys where engine.isLoaded(key) {
            guard let value = engine.value(key) else {
                fail("c\(c): \(key.path) is loaded but has no value")
                return
            }
            if client.checked[key] == value { continue }
            client.checked[key] = value
            let shas = ShaLog.shas(value.value)
            let held = Set(shas)
            if held.count != shas.count {
                fail("c\(c): \(key.path) folds an op twice: \(Self.duplicates(shas))")
                return
            }
            for write in client.acked[key] ?? [] where client.mustHold(write, at: key) && !refusedByStores.contains(write.sha) && !held.contains(write.sha) {
                fail("c\(c): acknowledged write \(write.sha.short) missing from the local value of \(key.path) [\(shas.map(\.short).joined(separator: " "))]")
                return
            }
        }
    }

    /// No sha folded twice; every payload op the store accepted stays in its value.
    private func checkStore(_ s: Int) {
        let store = stores[s]
        let changed = store.changed
        store.changed = []
        for key in keys where changed.contains(key) {
            let shas = store.value(key)
            let held = Set(shas)
            if held.count != shas.count {
                fail("s\(s): \(key.path) folds an op twice: \(Self.duplicates(shas))")
                return
            }
            for sha in store.acknowledged[key] ?? [] where !held.contains(sha) {
                fail("s\(s): accepted op \(sha.short) lost from \(key.path) [\(shas.map(\.short).joined(separator: " "))]")
                return
            }
        }
    }

    /// Everyone holds the same oplog and value of every path; it holds every
    /// write acknowledged and not refused, and no refused one; exactly the
    /// bad writes were reported failed.
    func checkConvergence() {
        for key in keys {
            let reference = stores[0].oplog(key)
            let value = stores[0].value(key)
            let shape = Self.shape(reference)
            for store in stores.dropFirst() where Self.shape(store.oplog(key)) != shape || store.value(key) != value {
                fail("at quiescence \(store.name) differs from s0 at \(key.path):\n  s0: \(Self.describe(reference))\n  \(store.name): \(Self.describe(store.oplog(key)))")
                return
            }
            for client in clients {
                guard let oplog = client.engine?.oplog(key), let local = client.engine?.value(key) else {
                    fail("at quiescence c\(client.index) does not hold \(key.path)")
                    return
                }
                if Self.shape(oplog) != shape || ShaLog.shas(local.value) != value {
                    fail("at quiescence c\(client.index) differs from the stores at \(key.path):\n  s0: \(Self.describe(reference))\n  c\(client.index): \(Self.describe(oplog))")
                    return
                }
            }
            let held = Set(value)
            for client in clients {
                for sha in (client.acked[key] ?? []).map(\.sha) {
                    let bad = client.bad.contains(sha)
                    if bad != client.failed.contains(sha) {
                        fail("at quiescence c\(client.index)'s \(bad ? "bad" : "good") write \(sha.short) was \(bad ? "not " : "")reported failed")
                        return
                    }
                    if bad == held.contains(sha) {
                        fail("at quiescence c\(client.index)'s \(bad ? "refused" : "acknowledged") write \(sha.short) is \(bad ? "" : "not ")in the value of \(key.path)")
                        return
                    }
                }
            }
        }
    }

    private static func shape(_ oplog: Oplog) -> [String] { [oplog.base.sha] + oplog.ops.map(\.sha) }

    private static func duplicates(_ shas: [String]) -> String {
        var seen: Set<String> = []
        return shas.filter { !seen.insert($0).inserted }.map(\.short).joined(separator: " ")
    }
}
