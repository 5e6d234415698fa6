/// `teabag-bench`: measurements that print figures and write them under
/// docs/benchmarks/. Not tests: nothing here asserts a speed.
import ArgumentParser

@main
struct BenchCommand: AsyncParsableCommand {

    static let configuration = CommandConfiguration(
        commandName: "teabag-bench",
        abstract: "TeaBag benchmarks; each writes docs/benchmarks/<name>.md.",
        subcommands: [FoldBench.self, TableBench.self, StoreBench.self, ClientBench.self, AgentBench.self, MemoryBench.self]
    )
}
