/// What the dashboard shows, sampled from the client runtime twice a
/// second: the status, the held values (only while a page is open), the
/// plugins, and a minute of pushes and received ops per second.
import Foundation
import TeaBag
import TeaBagCore
import TeaBagPlugins

actor DashboardSampler {
    private let client: TeaBagClient
    private let plugins: PluginHost
    private let started: Date
    /// Per-second points kept for the chart.
    static let historyLength = 60

    private var subscribers: [Int: AsyncStream<String>.Continuation] = [:]
    private var nextID = 0
    private var lastSnapshot: String?
    private var pushes: [Int] = []
    private var received: [Int] = []
    private var lastCounters: (at: ContinuousClock.Instant, writes: Int, received: Int)?
    /// When each store (`channel store-id`) was last seen in sync: its stream
    /// connected and its outbox empty. The runtime keeps no such time, so the
    /// sampler records what it sees.
    private var lastInSync: [String: Date] = [:]

    init(client: TeaBagClient, plugins: PluginHost, started: Date) {
        self.client = client
        self.plugins = plugins
        self.started = started
    }

    /// Snapshots as canonical JSON text: the latest at once, then each one
    /// that differs from the one before.
    func subscribe() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(2))
        let id = nextID
        nextID += 1
        subscribers[id] = continuation
        continuation.onTermination = { _ in Task { await self.unsubscribe(id) } }
        if let lastSnapshot { continuation.yield(lastSnapshot) }
        return stream
    }

    private func unsubscribe(_ id: Int) { subscribers[id] = nil }

    /// Runs until cancelled: a sample every `interval`, and one soon after
    /// a value changes (at most one per 100 ms), so a push shows at once.
    func run(every interval: Duration = .milliseconds(500)) async {
        let updates = await client.updates()
        let wake = Task {
            for await _ in updates { await self.sampleAfterChange() }
        }
        while !Task.isCancelled {
            await sample()
            try? await Task.sleep(for: interval)
        }
        wake.cancel()
        for continuation in subscribers.values { continuation.finish() }
    }

    private var sampling = false
    private var lastSampled = ContinuousClock.now

    private func sampleAfterChange() async {
        guard !subscribers.isEmpty, !sampling, ContinuousClock.now - lastSampled >= .milliseconds(100) else { return }
        await sample()
    }

    func sample() async {
        sampling = true
        lastSampled = ContinuousClock.now
        defer { sampling = false }
        let status = await client.status()
        record(status)
        guard !subscribers.isEmpty else { return }
        var channels: [JSON] = []
        for channel in status.channels {
            let values = await client.heldValues(channel.name)
            channels.append(channelJSON(channel, values: values))
        }
        let snapshot = snapshotJSON(status, channels: channels).canonicalString
        guard snapshot != lastSnapshot else { return }
        lastSnapshot = snapshot
        for continuation in subscribers.values { continuation.yield(snapshot) }
    }

    /// Rates (one point per whole second) and in-sync times.
    private func record(_ status: ClientStatus) {
        let now = ContinuousClock.now
        if let last = lastCounters {
            if now - last.at >= .seconds(1) {
                append(&pushes, status.localWrites - last.writes)
                append(&received, status.receivedOps - last.received)
                lastCounters = (now, status.localWrites, status.receivedOps)
            }
        } else {
            lastCounters = (now, status.localWrites, status.receivedOps)
        }
        let wall = Date()
        for channel in status.channels {
            for store in channel.stores where store.connected && store.outbox == 0 && !store.retrying {
                lastInSync[channel.name + " " + store.storeID] = wall
            }
        }
    }

    private func append(_ series: inout [Int], _ value: Int) {
        series.append(max(0, value))
        if series.count > Self.historyLength { series.removeFirst(series.count - Self.historyLength) }
    }

    private func channelJSON(_ channel: ClientStatus.Channel, values: [ValueUpdate]) -> JSON {
        let stores: [JSON] = channel.stores.map { store in
            var json = store.json.objectValue ?? [:]
            json["state"] = .string(store.connected ? "connected" : "disconnected")
            if let seen = lastInSync[channel.name + " " + store.storeID] {
                json["last_sync_ms_ago"] = .number(Double(max(0, Int64(Date().timeIntervalSince(seen) * 1000))))
            }
            return .object(json)
        }
        return [
            "name": .string(channel.name), "paths": .number(Double(channel.paths)), "stores": .array(stores),
            "values": .array(values.map { ["type": .string($0.type), "path": .string($0.path), "value": $0.value, "sha": .string($0.sha)] }),
        ]
    }

    private func snapshotJSON(_ status: ClientStatus, channels: [JSON]) -> JSON {
        var json: [String: JSON] = [
            "node": .string(status.node),
            "uptime_s": .number(Double(Int(Date().timeIntervalSince(started)))),
            "channels": .array(channels),
            "failed_writes": status.json["failed_writes"] ?? .array([]),
            "failed_write_count": .number(Double(status.failedWriteCount)),
            "plugins": [
                "types": .array(plugins.types.map { .string($0) }),
                "refused": .array((plugins.refusals.map(\.description) + plugins.declarationErrors.map(\.message)).map { .string($0) }),
            ],
            "rates": ["pushes": .array(pushes.map { .number(Double($0)) }), "received": .array(received.map { .number(Double($0)) })],
        ]
        if let error = status.sessionError { json["session_error"] = ["name": .string(error.name), "message": .string(error.message)] }
        return .object(json)
    }
}
