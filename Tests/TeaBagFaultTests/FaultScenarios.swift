/// Issue 8's fault scenarios: each injects one fault into a table, three
/// stores and three agents running as real processes under a workload, heals
/// it, and checks the history — nothing acknowledged lost, nothing folded
/// twice, every node converged — recording the figures for
/// docs/reliability.md. `TEABAG_FAULT_RUNS=N` runs each N times.
///
/// One scenario at a time: each starts seven processes, and a two-core
/// machine running several clusters at once would measure the machine.
import Testing

@Suite(.serialized) struct FaultScenarios {}
