/// The history checker: once the faults are healed and the workload has
/// stopped, reads every path the history touched on every agent and every
/// store until they agree (or a deadline passes), and counts what docs/sync.md#oplog-rules
/// promises never happens: an acknowledged op missing somewhere (lost), an
/// op folded twice (doubled), nodes that disagree (diverged).
import Foundation
import TeaBagCore

/// Where a value is read: an agent's local API or a store's `GET value`.
struct ValueSource: Sendable {
    let name: String
    let read: @Sendable (_ type: String, _ path: String) async throws -> JSON
}

/// What one run of a scenario showed.
struct Figures: Sendable, Codable, Equatable {
    var invoked = 0
    var acknowledged = 0
    var refused = 0
    var unknown = 0
    /// Acknowledged ops missing from the value of at least one node.
    var lost = 0
    /// Ops folded more than once into some node's value (a counter's stray bits count here too).
    var doubled = 0
    /// Paths whose value is not the same on every node.
    var diverged = 0
    /// Refused ops, or marks no op wrote, found in a value.
    var phantom = 0
    /// Unknown ops in on some nodes and not on others.
    var unknownSplit = 0
    /// From the moment the faults were healed and the workload stopped to
    /// the first read where every node agreed; nil: never within the deadline.
    var convergeMs: Int?

    var clean: Bool { lost == 0 && doubled == 0 && diverged == 0 && phantom == 0 && unknownSplit == 0 }
}

struct Checker: Sendable {
    let history: History
    let sources: [ValueSource]

    /// Reads until every node agrees and holds every acknowledged op, with
    /// `quiet` (nothing waiting in any outbox) true, or until `deadline`.
    /// The figures of the last read, and its first problems in words.
    func awaitConvergence(since healed: ContinuousClock.Instant, deadline: Duration = .seconds(120),
                          quiet: @Sendable () async -> Bool) async -> (Figures, [String]) {
        var last: (Figures, [String]) = (Figures(), [])
        while true {
            last = evaluate(await snapshot())
            if last.0.clean, await quiet() {
                last.0.convergeMs = Int((ContinuousClock.now - healed) / .milliseconds(1))
                return last
            }
            if ContinuousClock.now - healed > deadline { return last }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    /// Every path of the history on every node; nil where a read failed.
    func snapshot() async -> [PathRef: [String: JSON?]] {
        var result: [PathRef: [String: JSON?]] = [:]
        for target in history.paths {
            var values: [String: JSON?] = [:]
            for source in sources {
                values[source.name] = .some(try? await source.read(target.type, target.path))
            }
            result[target] = values
        }
        return result
    }

    func evaluate(_ snapshot: [PathRef: [String: JSON?]]) -> (Figures, [String]) {
        let records = history.all
        var figures = Figures()
        figures.invoked = records.count
        figures.acknowledged = records.filter { $0.outcome == .acknowledged }.count
        figures.refused = records.filter { $0.outcome == .refused }.count
        figures.unknown = records.filter { $0.outcome == .unknown || $0.outcome == .invoked }.count
        var problems: [String] = []
        let byPath = Dictionary(grouping: records, by: \.target)
        for (target, values) in snapshot.sorted(by: { $0.key < $1.key }) {
            let ops = byPath[target] ?? []
            let read = values.compactMapValues { $0 }
            if read.count < values.count || Set(read.values.map(\.canonicalString)).count > 1 {
                figures.diverged += 1
                let unread = values.filter { $0.value == nil }.keys.sorted()
                problems.append("\(target): nodes disagree" + (unread.isEmpty ? "" : " (no answer from \(unread.joined(separator: ", ")))"))
            }
            var present: [String: [Mark: Int]] = [:]
            for (node, value) in read {
                let (marks, stray) = Self.marks(in: value, type: target.type)
                present[node] = marks
                if stray > 0 {
                    figures.doubled += stray
                    problems.append("\(target) on \(node): \(stray) bit(s) no op owns: \(value.canonicalString)")
                }
            }
            let known = Set(ops.map(\.mark))
            for (node, marks) in present.sorted(by: { $0.key < $1.key }) {
                let foreign = marks.keys.filter { !known.contains($0) }
                guard !foreign.isEmpty else { continue }
                if target.type == "counter" {
                    // A bit no op owns is the carry of an op added twice.
                    figures.doubled += foreign.count
                } else {
                    figures.phantom += foreign.count
                }
                problems.append("\(target) on \(node): \(foreign.count) element(s) no op wrote")
            }
            for op in ops {
                let counts = read.keys.map { present[$0]?[op.mark] ?? 0 }
                let missing = read.keys.filter { (present[$0]?[op.mark] ?? 0) == 0 }.sorted()
                if counts.contains(where: { $0 > 1 }) {
                    figures.doubled += 1
                    problems.append("\(target): \(op.mark) folded \(counts.max()!) times")
                }
                switch op.outcome {
                case .acknowledged:
                    if !missing.isEmpty {
                        figures.lost += 1
                        problems.append("\(target): acknowledged \(op.mark) (agent \(op.agent)) missing on \(missing.joined(separator: ", "))")
                    }
                case .refused:
                    if missing.count < read.count {
                        figures.phantom += 1
                        problems.append("\(target): refused \(op.mark) present")
                    }
                case .unknown, .invoked:
                    if !missing.isEmpty && missing.count < read.count {
                        figures.unknownSplit += 1
                        problems.append("\(target): unknown \(op.mark) only on some nodes (missing on \(missing.joined(separator: ", ")))")
                    }
                }
            }
        }
        return (figures, Array(problems.prefix(12)))
    }

    /// The marks in a value with how often each occurs, and the count of
    /// stray counter bits (or a counter that is not a whole number).
    static func marks(in value: JSON, type: String) -> ([Mark: Int], stray: Int) {
        var marks: [Mark: Int] = [:]
        switch type {
        case "counter":
            guard !value.isNull else { return ([:], 0) }
            guard let number = value.doubleValue, number >= 0, number < 9_007_199_254_740_992, number.rounded() == number else {
                return ([:], 1)
            }
            let bits = UInt64(number)
            for bit in 0..<64 where bits & (UInt64(1) << UInt64(bit)) != 0 {
                if bit < Workload.bitsPerCounterPath { marks[.bit(bit), default: 0] += 1 } else { return (marks, 1) }
            }
        default:
            for element in value.arrayValue ?? [] {
                if let token = element.stringValue { marks[.token(token), default: 0] += 1 }
            }
        }
        return (marks, 0)
    }
}
