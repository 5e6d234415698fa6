@testable import TeaBag
import TeaBagCore

/// What a failure shows: where everyone stood, and ops, requests and
/// answers in a few characters each.
extension Simulation {
    /// For a run that does not settle: where each client and store stands.
    func stateSummary() -> String {
        var lines: [String] = []
        for client in clients {
            guard let engine = client.engine else {
                lines.append("c\(client.index): down")
                continue
            }
            let links = engine.status(now: client.now(time)).map { link -> String in
                let state = "outbox \(link.outbox), stream \(link.connected ? "up" : "down"), \(link.retrying ? "retrying" : "ready")"
                return "\(link.store): \(state), last error \(link.lastError?.name ?? "-")"
            }
            lines.append("c\(client.index): quiet \(engine.isQuiet), in flight \(client.inflight.count), clock \(client.now(time) - time) ms; "
                + links.joined(separator: "; "))
            for key in keys {
                guard let replica = engine.paths[key] else {
                    lines.append("  \(key.path): not held")
                    continue
                }
                lines.append("  \(key.path) \(replica.loaded ? "loaded" : "not loaded"): local \(Self.describe(replica.local))")
                for store in storeNames { lines.append("    mirror \(store): \(Self.describe(replica.mirror(store)))") }
            }
        }
        for key in keys {
            for store in stores { lines.append("\(store.name) \(key.path): \(Self.describe(store.oplog(key)))") }
        }
        return lines.joined(separator: "\n")
    }

    static func describe(_ covers: [String: Int64]?) -> String {
        guard let covers else { return "-" }
        return "{" + covers.sorted { $0.key < $1.key }.map { "\($0.key.prefix(4)):\($0.value)" }.joined(separator: ",") + "}"
    }

    static func describe(_ op: Op) -> String {
        if op.isValueOp { return "base \(op.sha.short) date +\(op.date - startTime) covers \(describe(op.covers))" }
        return "\(op.sha.short) (\(op.node?.prefix(4) ?? "-"):\(op.seq ?? 0))"
    }

    static func describe(_ request: SyncRequest) -> String {
        switch request {
        case .fetch(_, let key, let generation): "fetch \(key.path) gen \(generation)"
        case .deliver(_, let entries): "deliver " + entries.map { "\($0.key.path) \(describe($0.op))" }.joined(separator: ", ")
        case .push(_, let items): "push " + items.map { "\($0.key.path) \(describe($0.op))" }.joined(separator: ", ")
        }
    }

    static func describe(_ outcome: Outcome) -> String {
        switch outcome {
        case .oplog(let ops): "oplog [" + ops.map(describe).joined(separator: ", ") + "]"
        case .answers(let answers): answers.map { answer in
            switch answer {
            case .accepted(let noop): noop ? "noop" : "ok"
            case .refused(let error): "refused \(error.name)"
            case .retryLater(let error): "retry later \(error.name) \(error.retryAfterMs ?? 0) ms"
            }
        }.joined(separator: ", ")
        }
    }

    static func describe(_ oplog: Oplog) -> String {
        "[\(describe(oplog.base))] " + oplog.ops.map(describe).joined(separator: " ")
    }

    static func describe(_ mirror: StoreMirror) -> String {
        switch mirror {
        case .unknown: "unknown"
        case .fetching(let generation, let buffered): "fetching gen \(generation), buffered \(buffered.map(describe))"
        case .known(let oplog): describe(oplog)
        }
    }
}
