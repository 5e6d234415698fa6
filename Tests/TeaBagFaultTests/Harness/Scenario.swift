/// Running a fault scenario: N runs (`TEABAG_FAULT_RUNS`), each on a fresh
/// cluster with a workload, the history checked after healing, the figures
/// expected clean and recorded for the report.
import Foundation
import Synchronization
import Testing
import TeaBagTestSupport

enum Scenario {
    /// Runs `body` `FaultRuns.count` times, expects each run clean, records the figures.
    static func run(_ id: String, _ title: String, _ body: (_ run: Int) async throws -> RunResult) async throws {
        var results: [RunResult] = []
        for run in 0..<FaultRuns.count {
            step("\(id) run \(run + 1) of \(FaultRuns.count)")
            let watchdog = RunWatchdog(run: "\(id) run \(run + 1)")
            defer { watchdog.cancel() }
            let result = try await body(run)
            let figures = result.figures
            let context = "\(id) run \(run + 1): \(figures) \(result.problems.joined(separator: "; "))"
            #expect(figures.lost == 0, "\(context)")
            #expect(figures.doubled == 0, "\(context)")
            #expect(figures.diverged == 0, "\(context)")
            #expect(figures.phantom == 0, "\(context)")
            #expect(figures.unknownSplit == 0, "\(context)")
            #expect(figures.convergeMs != nil, "did not converge: \(context)")
            #expect(figures.acknowledged > 0, "the workload got nothing acknowledged: \(context)")
            results.append(result)
            print("fault scenario \(context)")
        }
        try ReliabilityReport.record(ScenarioReport(id: id, title: title, results: results))
    }

    /// Stops the workload, then reads every node until they agree: the run's figures.
    static func check(_ cluster: FaultCluster, _ workload: Workload, _ history: History, notes: [String] = [],
                      deadline: Duration = .seconds(120)) async -> RunResult {
        step("healed; stopping the workload")
        await workload.stop()
        step("checking \(history.all.count) ops on \(cluster.valueSources.count) nodes")
        let healed = ContinuousClock.now
        let (figures, problems) = await Checker(history: history, sources: cluster.valueSources)
            .awaitConvergence(since: healed, deadline: deadline, quiet: { await cluster.outboxesEmpty() })
        step("checked: \(figures)")
        if !figures.clean || figures.convergeMs == nil { print("fault cluster logs:\n\(cluster.logs())") }
        return RunResult(figures: figures, problems: problems, notes: notes)
    }
}

/// Prints what a scenario is doing, with the time since the suite began, so
/// that a slow or failing run's log says where its time went.
func step(_ text: String) {
    let line = "[fault +\(String(format: "%.1f", Double((ContinuousClock.now - suiteStarted) / .milliseconds(1)) / 1000)) s] \(text)"
    lastStep.withLock { $0 = line }
    print(line)
    // Flushed: the line a hung run's log ends with must be its last step.
    fflush(nil)
}

private let lastStep = Mutex("")

/// A run that has not ended after ten minutes (they take seconds) ends the
/// test process, naming the run and its last step: a hang must fail the
/// suite with a reason, not hold CI until its time runs out. The process's
/// exit handlers still run (the PostgreSQL test cluster is stopped).
final class RunWatchdog: Sendable {
    static let limit: DispatchTimeInterval = .seconds(600)
    private let cancelled = Atomic(false)

    init(run: String) {
        // Dispatch's own threads: a hang that holds every thread of Swift's
        // cooperative pool must not hold the watchdog too.
        DispatchQueue.global().asyncAfter(deadline: .now() + Self.limit) { [self] in
            guard !cancelled.load(ordering: .relaxed) else { return }
            print("fault scenario \(run) has not ended after \(RunWatchdog.limit); its last step: \(lastStep.withLock { $0 })")
            print("ending the test process")
            fflush(nil)
            exit(70)
        }
    }

    func cancel() { cancelled.store(true, ordering: .relaxed) }
}

private let suiteStarted = ContinuousClock.now

/// A pause in a scenario; generous, since the machine may be busy.
func pause(_ milliseconds: Int) async throws {
    try await Task.sleep(for: .milliseconds(milliseconds))
}
