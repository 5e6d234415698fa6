/// The store's own metrics (docs/protocol.md#common-rules, issue: ops accepted/refused/noop,
/// stream listeners, commit latency).
import Prometheus
import TeaBagServerKit

struct StoreCounters: Sendable {
    let accepted: Prometheus.Counter
    let refused: Prometheus.Counter
    let noop: Prometheus.Counter
    let listeners: Prometheus.Gauge
    let registrations: Prometheus.Gauge
    let commit: DurationHistogram
    let commitBatch: ValueHistogram

    init(_ metrics: ServerMetrics) {
        accepted = metrics.counter("teabag_store_ops_total", labels: [("outcome", "accepted")])
        refused = metrics.counter("teabag_store_ops_total", labels: [("outcome", "refused")])
        noop = metrics.counter("teabag_store_ops_total", labels: [("outcome", "noop")])
        listeners = metrics.gauge("teabag_store_stream_listeners")
        registrations = metrics.gauge("teabag_store_long_poll_registrations")
        commit = metrics.registry.makeDurationHistogram(
            name: "teabag_store_commit_seconds", labels: [("role", "store")],
            buckets: [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                      .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .seconds(1)])
        commitBatch = metrics.registry.makeValueHistogram(name: "teabag_store_commit_requests", labels: [("role", "store")],
                                                          buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024])
    }
}
