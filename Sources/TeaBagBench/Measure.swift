/// Timing and report helpers shared by the benchmarks.
import Foundation

struct Timing {
    /// Runs `body` `runs` times and returns each run's seconds.
    static func repeated(_ runs: Int, _ body: () throws -> Void) rethrows -> [Double] {
        var seconds: [Double] = []
        for _ in 0..<runs {
            let start = ContinuousClock.now
            try body()
            let elapsed = ContinuousClock.now - start
            seconds.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        return seconds
    }

    /// Seconds `body` takes, once.
    static func elapsed(_ body: () async throws -> Void) async rethrows -> Double {
        let start = ContinuousClock.now
        try await body()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

enum Report {
    /// What the figures were measured on, for the report's header.
    static func machine() -> String {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let memory = ProcessInfo.processInfo.physicalMemory / (1 << 30)
        var cpu = "unknown CPU"
        if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }) {
            cpu = line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? cpu
        }
        #if DEBUG
        let build = "debug build (figures are not representative; use -c release)"
        #else
        let build = "release build"
        #endif
        return "\(cores) cores, \(memory) GiB, \(cpu); \(build)"
    }

    static func formatRate(_ perSecond: Double) -> String {
        let rounded = Int((perSecond / 1_000).rounded()) * 1_000
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = ","
        return formatter.string(from: NSNumber(value: rounded)) ?? "\(rounded)"
    }

    static func write(_ markdown: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try markdown.write(to: url, atomically: true, encoding: .utf8)
    }
}

/// Prints a line at once, unbuffered, so figures show as they are measured even into a pipe.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Quantiles of durations, in ms (the client and agent benches).
struct Quantiles {
    let sorted: [Double]
    init(_ durations: [Duration]) { sorted = durations.map { Self.seconds($0) * 1000 }.sorted() }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    func value(_ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
    }

    private func text(_ ms: Double) -> String { String(format: "%.2f ms", ms) }
    var p50: String { text(value(0.5)) }
    var p90: String { text(value(0.9)) }
    var p99: String { text(value(0.99)) }
    var max: String { text(sorted.last ?? .nan) }
}

/// Ends the process if a measurement stalls (a lost event would otherwise hang it).
final class Watchdog: Sendable {
    private let task: Task<Void, Never>

    init(_ what: String, seconds: Double, note: String = "") {
        task = Task {
            try? await Task.sleep(for: .seconds(seconds))
            guard !Task.isCancelled else { return }
            say("the \(what) measurement stalled for \(Int(seconds)) s; giving up\(note)")
            exit(3)
        }
    }

    func done() { task.cancel() }
}
