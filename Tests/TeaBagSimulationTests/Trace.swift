/// The last events of a run, formatted only when a run fails (formatting
/// every event would cost more than simulating it); all of them, as they
/// happen, in verbose mode.
struct Trace {
    private var ring: [(time: Int64, line: () -> String)?]
    private var next = 0
    let verbose: Bool

    init(capacity: Int = 80, verbose: Bool) {
        ring = Array(repeating: nil, count: capacity)
        self.verbose = verbose
    }

    mutating func add(_ time: Int64, _ line: @escaping () -> String) {
        if verbose { print("\(Self.format(time)) \(line())") }
        ring[next] = (time, line)
        next = (next + 1) % ring.count
    }

    var lines: [String] {
        (0..<ring.count).compactMap { ring[(next + $0) % ring.count] }.map { "\(Self.format($0.time)) \($0.line())" }
    }

    /// Virtual time since the start, in seconds.
    static func format(_ time: Int64) -> String {
        let ms = time - Simulation.startTime
        let text = "\(ms / 1000).\(String(1000 + ms % 1000).dropFirst())"
        return String(repeating: " ", count: max(0, 9 - text.count)) + text
    }
}
