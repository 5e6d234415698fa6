/// Exponential backoff with jitter, for reconnects and retries: quick after
/// a blip, at most `maximum` apart while a server stays down, and spread out
/// so that many clients of one restarted store do not all return at once.
public struct Backoff: Sendable {
    public var initial: Duration
    public var factor: Double
    public var maximum: Duration
    /// Each delay is scaled by a random factor in `1 ± jitter`, then capped at `maximum`.
    public var jitter: Double
    private var nextBaseMs: Double

    public init(initial: Duration = .milliseconds(100), factor: Double = 2, maximum: Duration = .seconds(5), jitter: Double = 0.2) {
        self.initial = initial
        self.factor = factor
        self.maximum = maximum
        self.jitter = jitter
        self.nextBaseMs = Self.ms(initial)
    }

    /// The delay before the next attempt; each call grows the following one.
    public mutating func next() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return next(using: &generator)
    }

    public mutating func next<G: RandomNumberGenerator>(using generator: inout G) -> Duration {
        let maxMs = Self.ms(maximum)
        let base = min(nextBaseMs, maxMs)
        nextBaseMs = min(base * factor, maxMs)
        let scale = jitter > 0 ? Double.random(in: (1 - jitter)...(1 + jitter), using: &generator) : 1
        return .milliseconds(max(0, min(base * scale, maxMs)))
    }

    /// Back to `initial`, after a connection or request that went well.
    public mutating func reset() { nextBaseMs = Self.ms(initial) }

    static func ms(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1_000 + Double(attoseconds) / 1e15
    }
}
