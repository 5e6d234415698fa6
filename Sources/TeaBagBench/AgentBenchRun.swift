/// One run of the agent bench: the processes started, every figure
/// measured, the processes stopped (by PID).
import AsyncHTTPClient
import Foundation
import TeaBagCore

/// Everything one run measures.
struct AgentFigures {
    var pushSeq = RateRun(), pushConc = RateRun(), fullSeq = RateRun(), fullConc = RateRun()
    var getSeq = RateRun(), getConc = RateRun()
    var devSeq = RateRun(), devConc = RateRun()
    var e2e = Quantiles([]), call = Quantiles([]), cli = Quantiles([]), cliExit = Quantiles([])
    var cpuA = 0.0, cpuB = 0.0, cpuServers = 0.0
    var check = ""
    var sustained: SustainedRun?
    var held: HeldPathsRun?
}

struct AgentBenchRun {
    let bench: AgentBench

    func measure() async throws -> AgentFigures {
        let directory = NSTemporaryDirectory() + "teabag-bench-agent-\(UUID().uuidString)"
        for conf in ["/conf", "/conf-full"] {
            try FileManager.default.createDirectory(atPath: directory + conf, withIntermediateDirectories: true)
        }
        // Log warnings only; C commits with an fsync.
        try "table:\n  log_level: warning\nstore:\n  log_level: warning\nagent:\n  log_level: warning\n"
            .write(toFile: directory + "/conf/10-bench.yaml", atomically: true, encoding: .utf8)
        try "agent:\n  log_level: warning\n  durability: full\n".write(toFile: directory + "/conf-full/10-bench.yaml", atomically: true, encoding: .utf8)
        var processes: [AgentBenchProcess] = []
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(bench.workers, SustainedRun.workers) + 4)))
        do {
            let figures = try await measure(http: http, directory: directory, processes: &processes)
            try? await http.shutdown()
            try? FileManager.default.removeItem(atPath: directory)
            return figures
        } catch {
            for process in processes.reversed() { process.stop() }
            try? await http.shutdown()
            say("failed; the processes' logs are in \(directory)")
            throw error
        }
    }

    private func measure(http: HTTPClient, directory: String, processes: inout [AgentBenchProcess]) async throws -> AgentFigures {
        let binary = bench.binary, sequential = bench.sequential, workers = bench.workers, seconds = bench.seconds
        var f = AgentFigures()
        // 1. The servers, each its own process, and user 1 enrolled.
        let cluster = BenchCluster(tableKey: "bench-table-" + UUID().uuidString, storeKey: "bench-store-" + UUID().uuidString,
                                   master: "bench-master-" + UUID().uuidString)
        let table = try AgentBenchProcess.start(binary, ["table", "--config", directory + "/conf", "--data", directory + "/table",
                                                         "--port", "0", "--key", cluster.tableKey], log: directory + "/table.log")
        processes.append(table)
        let tableURL = BenchCluster.slash(try table.wait(for: "teabag table listening on ", seconds: 60))
        var storeURLs: [String] = []
        var stores: [AgentBenchProcess] = []
        for index in 0..<2 {
            let store = try AgentBenchProcess.start(binary, ["store", "--config", directory + "/conf", "--data", directory + "/store\(index)",
                                                             "--port", "0", "--key", cluster.storeKey, "--plugins", "Plugins"],
                                                    log: directory + "/store\(index).log")
            processes.append(store)
            stores.append(store)
            storeURLs.append(BenchCluster.slash(try store.wait(for: "teabag store listening on ", seconds: 60)))
        }
        try await cluster.enroll(http: http, tableURL: tableURL, storeURLs: storeURLs)
        func agent(_ name: String, conf: String = "/conf") throws -> (AgentBenchProcess, String) {
            let process = try AgentBenchProcess.start(binary, [
                "agent", "--config", directory + conf, "--table-url", tableURL, "--user", "1", "--master", cluster.master,
                "--data", directory + "/" + name, "--plugins", "Plugins",
            ], log: directory + "/\(name).log")
            processes.append(process)
            return (process, try process.wait(for: "teabag agent listening on unix:", seconds: 60))
        }
        let (agentA, socketA) = try agent("a")
        let (agentB, socketB) = try agent("b")
        let a = AgentAPI(http: http, socket: socketA), apiB = AgentAPI(http: http, socket: socketB)
        say("table \(tableURL) (pid \(table.pid)), stores \(storeURLs) (pids \(stores.map(\.pid))); agent A (pid \(agentA.pid)) unix:\(socketA); agent B (pid \(agentB.pid)) unix:\(socketB); \(AgentBenchProcess.uptime())")
        let serverCPU = { table.cpuSeconds() + stores.reduce(0) { $0 + $1.cpuSeconds() } }

        // 2. Local API rates on A (durability normal).
        for i in 0..<200 { _ = try await a.push("/bench/\(i % 100)") }  // warm-up, paths created
        f.pushSeq = try await RateRun.sequential(sequential, socket: socketA, process: agentA, other: agentB, servers: serverCPU) { a, i in try a.push("/bench/\(i % 100)") }
        say("push, sequential: \(f.pushSeq.summary)")
        f.pushConc = try await RateRun.concurrent(workers, seconds: seconds, socket: socketA, process: agentA, other: agentB, servers: serverCPU) { a, i in try a.push("/bench/\(i % 100)") }
        say("push, \(workers) concurrent: \(f.pushConc.summary)")
        f.getSeq = try await RateRun.sequential(sequential, socket: socketA, process: agentA, other: agentB, servers: serverCPU) { a, i in try a.get("/bench/\(i % 100)") }
        say("get, sequential: \(f.getSeq.summary)")
        f.getConc = try await RateRun.concurrent(workers, seconds: seconds, socket: socketA, process: agentA, other: agentB, servers: serverCPU) { a, i in try a.get("/bench/\(i % 100)") }
        say("get, \(workers) concurrent: \(f.getConc.summary)")
        // Every push is accounted for: the paths sum to all pushes made.
        let pushed = 200 + f.pushSeq.count + f.pushConc.count
        var sum = 0.0
        for p in 0..<100 { sum += try await a.get("/bench/\(p)") }
        f.check = sum == Double(pushed) ? "the 100 paths on A sum to the \(AgentBench.grouped(pushed)) pushes made"
            : "**check failed**: the 100 paths on A sum to \(sum), \(AgentBench.grouped(pushed)) pushes were made"
        say(f.check)

        // 3. durability: full, on agent C.
        let (agentC, socketC) = try agent("c", conf: "/conf-full")
        let c = AgentAPI(http: http, socket: socketC)
        for i in 0..<100 { _ = try await c.push("/full/\(i)") }
        f.fullSeq = try await RateRun.sequential(Swift.min(sequential, 2_000), socket: socketC, process: agentC, other: agentB, servers: serverCPU) { c, i in try c.push("/full/\(i % 100)") }
        say("push, durability full, sequential: \(f.fullSeq.summary)")
        f.fullConc = try await RateRun.concurrent(workers, seconds: seconds, socket: socketC, process: agentC, other: agentB, servers: serverCPU) { c, i in try c.push("/full/\(i % 100)") }
        say("push, durability full, \(workers) concurrent: \(f.fullConc.summary)")
        agentC.stop()

        // 4. End to end: push on A → B's watch.
        let watchB = try await SSEWatch.open(apiB, path: "/lat")
        // The push made like the rate runs' (a blocking write and read on
        // this thread: nothing else runs in this process meanwhile but B's
        // watch, on NIO's threads), so the figure is not the HTTP client's.
        let latencyConnection = try UnixSocketConnection(socketA)
        let warmup = 20
        var api: [Duration] = [], apiCall: [Duration] = []
        let watchdog = Watchdog("latency", seconds: 120 + Double(bench.pushes) / 5, note: " (the agents are left running: stop them by PID)")
        for i in 0..<(warmup + bench.pushes) {
            let start = ContinuousClock.now
            let value = try latencyConnection.push("/lat")
            let answered = ContinuousClock.now
            let arrival = try await watchB.until(value)
            if i >= warmup {
                api.append(arrival - start)
                apiCall.append(answered - start)
            }
        }
        watchdog.done()
        f.e2e = Quantiles(api)
        f.call = Quantiles(apiCall)
        say("push on A (local API) → B's watch: p50 \(f.e2e.p50) p90 \(f.e2e.p90) p99 \(f.e2e.p99) max \(f.e2e.max); the push call \(f.call.p50) p50")

        let watchB2 = try await SSEWatch.open(apiB, path: "/lat2")
        var viaCLI: [Duration] = [], cliExit: [Duration] = []
        let cliWatchdog = Watchdog("CLI latency", seconds: 120 + Double(bench.cliPushes) * 2, note: " (the agents are left running: stop them by PID)")
        var expected = 0.0
        for i in 0..<(2 + bench.cliPushes) {
            expected += 1
            let start = ContinuousClock.now
            let cli = try AgentBenchProcess.start(binary, ["push", "--agent", socketA, "main", "counter", "/lat2", "1"], log: directory + "/cli.log")
            let arrival = try await watchB2.until(expected)
            let exited = try await cli.waitExit(seconds: 30)
            guard exited.status == 0 else { throw BenchError("teabag push exited \(exited.status); see \(directory)/cli.log") }
            if i >= 2 {
                viaCLI.append(arrival - start)
                cliExit.append(exited.at - start)
            }
        }
        cliWatchdog.done()
        f.cli = Quantiles(viaCLI)
        f.cliExit = Quantiles(cliExit)
        say("push by `teabag push` on A → B's watch: p50 \(f.cli.p50) p90 \(f.cli.p90) p99 \(f.cli.p99) max \(f.cli.max); the CLI process start → exit p50 \(f.cliExit.p50)")
        watchB.close()
        watchB2.close()

        // 5. Sustained pushes on A, then the memory of held paths on a fresh agent D.
        let stored = StoreReader(http: http, tableURL: tableURL, master: cluster.master, storeURLs: storeURLs)
        if bench.sustainSeconds > 0 {
            f.sustained = try await SustainedRun.measure(a, socket: socketA, process: agentA, rate: bench.sustainRate, seconds: bench.sustainSeconds, stores: stored)
            say("sustained: \(f.sustained!.summary)")
        }
        if bench.heldPaths > 0 {
            let (agentD, socketD) = try agent("d")
            f.held = try await HeldPathsRun.measure(AgentAPI(http: http, socket: socketD), process: agentD, follower: agentB, paths: bench.heldPaths,
                                                    workers: workers)
            say("held paths: \(f.held!.summary)")
            agentD.stop()
        }
        f.cpuA = agentA.cpuSeconds()
        f.cpuB = agentB.cpuSeconds()
        f.cpuServers = serverCPU()
        for process in processes.reversed() { process.stop() }
        processes = []

        // 6. The same push rates on `teabag dev` (everything in one process).
        let dev = try AgentBenchProcess.start(binary, ["dev", "--data", directory + "/dev", "--port", "0"], log: directory + "/dev.log")
        processes.append(dev)
        let devSocket = try dev.wait(for: "teabag agent listening on unix:", seconds: 60)
        let devAPI = AgentAPI(http: http, socket: devSocket)
        for i in 0..<200 { _ = try await devAPI.push("/bench/\(i % 100)") }
        let none = { 0.0 }
        f.devSeq = try await RateRun.sequential(sequential, socket: devSocket, process: dev, other: dev, servers: none) { d, i in try d.push("/bench/\(i % 100)") }
        say("teabag dev: push, sequential: \(f.devSeq.summary)")
        f.devConc = try await RateRun.concurrent(workers, seconds: seconds, socket: devSocket, process: dev, other: dev, servers: none) { d, i in try d.push("/bench/\(i % 100)") }
        say("teabag dev: push, \(workers) concurrent: \(f.devConc.summary)")
        // No agent B here: its column stays empty.
        f.devSeq.cpuB = 0
        f.devConc.cpuB = 0
        dev.stop()
        processes = []
        return f
    }
}
