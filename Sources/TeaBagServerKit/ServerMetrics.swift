/// Each server's own Prometheus registry (docs/protocol.md#common-rules `/metrics`), so that
/// several servers in one process (tests, `teabag dev`) keep apart figures.
import Hummingbird
import Metrics
import Prometheus
import Synchronization

public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    /// For code that speaks swift-metrics (e.g. the plugin host).
    public let factory: PrometheusMetricsFactory
    private let role: String
    /// Metrics already made, so a request costs a dictionary lookup, not a registry lookup.
    private let requestCounters = Mutex<[RequestKey: Prometheus.Counter]>([:])
    private let latencies = Mutex<[String: DurationHistogram]>([:])

    struct RequestKey: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    public init(role: String) {
        self.role = role
        self.factory = PrometheusMetricsFactory(registry: registry)
    }

    public func requests(route: String, method: String, status: Int) -> Prometheus.Counter {
        let key = RequestKey(route: route, method: method, status: status)
        if let known = requestCounters.withLock({ $0[key] }) { return known }
        let counter = registry.makeCounter(name: "teabag_http_requests_total",
                                           labels: [("role", role), ("route", route), ("method", method), ("status", String(status))])
        requestCounters.withLock { $0[key] = counter }
        return counter
    }

    public func latency(route: String) -> DurationHistogram {
        if let known = latencies.withLock({ $0[route] }) { return known }
        let histogram = makeLatency(route: route)
        latencies.withLock { $0[route] = histogram }
        return histogram
    }

    private func makeLatency(route: String) -> DurationHistogram {
        registry.makeDurationHistogram(name: "teabag_http_request_duration_seconds", labels: [("role", role), ("route", route)],
                                       buckets: [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
                                                 .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                                 .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5)])
    }

    public func gauge(_ name: String, labels: [(String, String)] = []) -> Prometheus.Gauge {
        registry.makeGauge(name: name, labels: [("role", role)] + labels)
    }

    public func counter(_ name: String, labels: [(String, String)] = []) -> Prometheus.Counter {
        registry.makeCounter(name: name, labels: [("role", role)] + labels)
    }

    /// The Prometheus text format.
    public func render() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
