/// Agent figures (issues 6 and 15), against real processes of the release
/// binary `.build/release/teabag`, started and stopped (SIGTERM, by PID) by
/// the bench: a `teabag table` and two `teabag store`s, each its own
/// process, so that the agent's figures are the agent's; agents A and B
/// (`teabag agent`, two devices of user 1), C (`durability: full`) for the
/// fsync figure and D (fresh) for the memory per held path. Measured over
/// the agents' Unix sockets: the local API's push and get rates, push on A →
/// B's watch event (local API and CLI), a minute of pushes at a fixed rate
/// with both stores read afterwards, and RSS per held path. Then the same
/// push rates on `teabag dev` (a table, two stores and an agent in one
/// process), for comparison. `--runs N` repeats it all; the report gives
/// each row's median run.
import ArgumentParser
import Foundation

struct AgentBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "Local API push/get rates of an agent, and push on agent A → watch event on agent B.")

    @Option(help: "The teabag binary (swift build -c release --product teabag).") var binary = ".build/release/teabag"
    @Option(help: "Requests of each sequential run.") var sequential = 5_000
    @Option(help: "Concurrent workers of each concurrent run.") var workers = 16
    @Option(help: "Seconds of each concurrent run.") var seconds = 5.0
    @Option(help: "Timed pushes of the end-to-end latency through the local API.") var pushes = 500
    @Option(help: "Timed pushes of the end-to-end latency through the CLI.") var cliPushes = 20
    @Option(help: "Where to write the report.") var out = "docs/benchmarks/agent.md"
    @Flag(help: "Label the report as taken on a loaded machine (a trial run, not the figures).") var trial = false
    @Option(help: "Runs of the whole sequence; the report gives each row's median run.") var runs = 1
    @Option(help: "Pushes per second of the sustained run.") var sustainRate = 5_000.0
    @Option(help: "Seconds of the sustained run (0: none).") var sustainSeconds = 60.0
    @Option(help: "New paths pushed to a fresh agent to measure its memory per held path (0: none).") var heldPaths = 100_000

    func run() async throws {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchError("\(binary) is missing: swift build -c release --product teabag")
        }
        guard runs >= 1 else { throw BenchError("--runs must be at least 1") }
        let started = Date()
        let loadBefore = AgentBenchProcess.uptime()
        var figures: [AgentFigures] = []
        for run in 1...runs {
            say("run \(run) of \(runs)")
            figures.append(try await AgentBenchRun(bench: self).measure())
        }
        let report = AgentReport(bench: self, runs: figures, started: started, loadBefore: loadBefore, loadAfter: AgentBenchProcess.uptime(),
                                 analysis: AgentReport.analysis(in: out))
        try Report.write(report.markdown, to: out)
        say("written to \(out)")
    }

    static func grouped(_ n: Int) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = ","
        return formatter.string(from: NSNumber(value: n)) ?? "\(n)"
    }
}

