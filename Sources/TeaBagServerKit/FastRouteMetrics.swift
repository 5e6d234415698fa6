/// What `ObservedRequests` records for a router request, recorded for a
/// request answered on the event loop: the request counter by route,
/// method and status, and the route's latency.
import Prometheus

public struct FastRouteMetrics: Sendable {
    public let push: Route
    public let batch: Route
    public let stream: Route

    public init(push: Route, batch: Route, stream: Route) {
        self.push = push
        self.batch = batch
        self.stream = stream
    }

    public struct Route: Sendable {
        let metrics: ServerMetrics
        let route: String
        let method: String
        let ok: Prometheus.Counter
        let latency: DurationHistogram

        /// - Parameter route: the router's name of it (`/user/{user_id}/oplog`).
        public init(_ metrics: ServerMetrics, route: String, method: String) {
            self.metrics = metrics
            self.route = route
            self.method = method
            ok = metrics.requests(route: route, method: method, status: 200)
            latency = metrics.latency(route: route)
        }

        public func record(status: Int, since start: ContinuousClock.Instant) {
            (status == 200 ? ok : metrics.requests(route: route, method: method, status: status)).increment()
            latency.record(ContinuousClock.now - start)
        }
    }
}
