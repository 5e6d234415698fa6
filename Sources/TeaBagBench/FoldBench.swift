/// Fold speed (issue 2): a 100,000-op counter oplog replayed through the C
/// plugin in one call and through an in-process Swift closure, and 100,000
/// incremental one-op folds through the plugin.
import ArgumentParser
import Foundation
import TeaBagCore
import TeaBagPlugins

struct FoldBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fold", abstract: "Replay and incremental fold rates.")

    @Option(help: "Ops in the oplog.") var ops = 100_000
    @Option(help: "Runs of each measurement; the median is reported.") var runs = 7
    @Option(help: "The counter plugin.") var plugin = "Plugins/counter.so"
    @Option(help: "Where to write the report.") var out = "docs/benchmarks/fold.md"

    func run() throws {
        let plugin = try PluginLoader.load(file: self.plugin).first { $0.type == "counter" }
        guard let plugin else { throw ValidationError("\(self.plugin) does not serve type counter") }
        let closure = ClosureReducer(type: "counter") { state, op in
            guard let x = op.payload?.doubleValue else { throw ReducerRefusal("counter: payload must be a number") }
            return .number((state.doubleValue ?? 0) + x)
        }
        let history = (1...ops).map { i in
            OpFactory.payloadOp(payload: .number(Double(i % 7)), node: "bench", seq: Int64(i), date: 1_700_000_000_000 + Int64(i))
        }
        let expected = JSON.number(Double(history.reduce(0) { $0 + Int($1.payload!.doubleValue!) }))

        // Warm up, and check both reducers agree before timing anything.
        guard try plugin.fold(state: .null, ops: history[...]) == expected,
              try closure.fold(state: .null, ops: history[...]) == expected else {
            throw ValidationError("the reducers disagree on the sum")
        }

        let replayPlugin = Timing.median(try Timing.repeated(runs) { _ = try plugin.fold(state: .null, ops: history[...]) })
        let encoded = PluginReducer.encode(history[...])
        let replayPreEncoded = Timing.median(try Timing.repeated(runs) { _ = try plugin.foldEncoded(state: Array("null".utf8), ops: encoded) })
        let encoding = Timing.median(Timing.repeated(runs) { _ = PluginReducer.encode(history[...]) })
        let replayClosure = Timing.median(try Timing.repeated(runs) { _ = try closure.fold(state: .null, ops: history[...]) })
        var state: JSON = .null
        let incrementalPlugin = Timing.median(try Timing.repeated(max(1, runs / 2)) {
            state = .null
            for index in history.indices { state = try plugin.fold(state: state, ops: history[index...index]) }
        })
        guard state == expected else { throw ValidationError("incremental folds gave \(state), expected \(expected)") }
        let incrementalClosure = Timing.median(try Timing.repeated(max(1, runs / 2)) {
            state = .null
            for index in history.indices { state = try closure.fold(state: state, ops: history[index...index]) }
        })

        let n = Double(ops)
        let rows: [(String, Double, String)] = [
            ("replay, C plugin, one call", n / replayPlugin, "≥ 2,000,000"),
            ("replay, C plugin, ops array already encoded", n / replayPreEncoded, "(the plugin's own share)"),
            ("encoding the ops array alone", n / encoding, "(the host's own share)"),
            ("replay, Swift closure in process", n / replayClosure, "(reference)"),
            ("incremental one-op folds, C plugin", n / incrementalPlugin, "≥ 200,000"),
            ("incremental one-op folds, Swift closure", n / incrementalClosure, "(reference)"),
        ]
        let ratio = replayPlugin / replayClosure
        var table = "| measurement | ops/s | goal |\n| --- | ---: | --- |\n"
        for (name, rate, goal) in rows { table += "| \(name) | \(Report.formatRate(rate)) | \(goal) |\n" }
        table += "| plugin / in-process time, replay | \(String(format: "%.2f", ratio))× | ≤ 2× |\n"
        say(table)
        let markdown = """
        # Fold benchmark

        `make bench` (or `swift run -c release teabag-bench fold`) on \(Report.machine()), \
        \(ISO8601DateFormatter().string(from: Date())). A \(ops)-op `counter` oplog (payloads 0–6, \
        with node/seq), median of \(runs) runs.

        \(table)
        What is timed: *replay* is one `fold` call over the whole oplog — for the plugin that includes \
        building the ops array from each op's cached reducer entry, the plugin's parse and sum, and \
        parsing its answer; *incremental* is one call per op with the state carried over (state \
        serialized, one-element array, result parsed), as a store or agent does for each new op. \
        The closure sees already-decoded ops, so the ratio is the whole price of the C boundary.
        """
        try Report.write(markdown + "\n", to: out)
        say("written to \(out)")
    }
}
