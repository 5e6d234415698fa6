/// The figures of each scenario, written to a JSON file that
/// `tools/reliability-report` renders into docs/reliability.md: runs, ops,
/// lost, doubled, diverged, time to converge.
import Foundation
import Synchronization
import TeaBagTestSupport

/// `TEABAG_FAULT_RUNS=N` repeats every scenario N times (the long mode);
/// CI runs each once.
enum FaultRuns {
    static let count: Int = max(1, Int(ProcessInfo.processInfo.environment["TEABAG_FAULT_RUNS"] ?? "") ?? 1)
}

/// One run of a scenario: its figures and what else it observed.
struct RunResult: Sendable {
    var figures: Figures
    var problems: [String] = []
    /// Facts worth a line in the report ("store 2 died by signal 11").
    var notes: [String] = []
}

struct ScenarioReport: Codable, Sendable {
    let id: String
    let title: String
    let runs: Int
    let invoked: Int
    let acknowledged: Int
    let refused: Int
    let unknown: Int
    let lost: Int
    let doubled: Int
    let diverged: Int
    let phantom: Int
    let unknownSplit: Int
    /// Runs that did not converge within the deadline.
    let notConverged: Int
    let convergeMsP50: Int?
    let convergeMsMax: Int?
    let notes: [String]
    let recordedAt: String

    init(id: String, title: String, results: [RunResult]) {
        self.id = id
        self.title = title
        runs = results.count
        func sum(_ figure: (Figures) -> Int) -> Int { results.reduce(0) { $0 + figure($1.figures) } }
        invoked = sum(\.invoked)
        acknowledged = sum(\.acknowledged)
        refused = sum(\.refused)
        unknown = sum(\.unknown)
        lost = sum(\.lost)
        doubled = sum(\.doubled)
        diverged = sum(\.diverged)
        phantom = sum(\.phantom)
        unknownSplit = sum(\.unknownSplit)
        let times = results.compactMap(\.figures.convergeMs).sorted()
        notConverged = results.count - times.count
        convergeMsP50 = times.isEmpty ? nil : times[(times.count - 1) / 2]
        convergeMsMax = times.last
        // The first run's: later runs observe the same with other numbers.
        notes = results.first?.notes ?? []
        recordedAt = ISO8601DateFormatter().string(from: Date())
    }
}

enum ReliabilityReport {
    /// `TEABAG_RELIABILITY_OUT`, else `faults.json` in `TEABAG_RELIABILITY_DIR`
    /// (where the attack suite writes), else in `.build/reliability/` of the repository.
    static var path: String {
        let environment = ProcessInfo.processInfo.environment
        if let file = environment["TEABAG_RELIABILITY_OUT"], !file.isEmpty { return file }
        let directory = environment["TEABAG_RELIABILITY_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? Repository.root + "/.build/reliability"
        return directory + "/faults.json"
    }

    private static let lock = Mutex<Void>(())

    /// Replaces this scenario's entry in the file, keeping the others.
    static func record(_ report: ScenarioReport) throws {
        try lock.withLock { _ in
            let url = URL(fileURLWithPath: path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            var scenarios: [String: ScenarioReport] = [:]
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            if let data = try? Data(contentsOf: url), let file = try? decoder.decode(File.self, from: data) {
                scenarios = file.scenarios
            }
            scenarios[report.id] = report
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            let file = File(runsPerScenario: FaultRuns.count, scenarios: scenarios)
            try encoder.encode(file).write(to: url, options: .atomic)
        }
    }

    struct File: Codable {
        var runsPerScenario: Int
        var scenarios: [String: ScenarioReport]
    }
}
