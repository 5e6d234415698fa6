/// Agent figures (issues 6 and 15), against real processes of the release
/// binary `.build/release/teabag`, started and stopped (SIGTERM, by PID) by
/// the bench: a `teabag table` and two `teabag store`s, each its own
/// process, so that the agent's figures are the agent's; agents A and B
/// (`teabag agent`, two devices of user 1), and C (`durability: full`) for
/// the fsync figure. Measured over the agents' Unix sockets: the local API's
/// push and get rates, and push on A → B's watch event, through the local
/// API and through the CLI. Then the same push rates on `teabag dev` (a
/// table, two stores and an agent in one process), for comparison.
import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import TeaBagCore
#if canImport(Glibc)
import Glibc
#endif

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

    func run() async throws {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchError("\(binary) is missing: swift build -c release --product teabag")
        }
        let started = Date()
        let loadBefore = AgentBenchProcess.uptime()
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
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(workers, 4) + 4)))
        do {
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
            say("table \(tableURL) (pid \(table.pid)), stores \(storeURLs) (pids \(stores.map(\.pid))); agent A (pid \(agentA.pid)) unix:\(socketA); agent B (pid \(agentB.pid)) unix:\(socketB); \(loadBefore)")
            let serverCPU = { table.cpuSeconds() + stores.reduce(0) { $0 + $1.cpuSeconds() } }

            // 2. Local API rates on A (durability normal).
            for i in 0..<200 { _ = try await a.push("/bench/\(i % 100)") }  // warm-up, paths created
            var rows: [String] = []
            let pushSeq = try await RateRun.sequential(sequential, process: agentA, other: agentB, servers: serverCPU) { i in try await a.push("/bench/\(i % 100)") }
            say("push, sequential: \(pushSeq.summary)")
            let pushConc = try await RateRun.concurrent(workers, seconds: seconds, process: agentA, other: agentB, servers: serverCPU) { i in try await a.push("/bench/\(i % 100)") }
            say("push, \(workers) concurrent: \(pushConc.summary)")
            let getSeq = try await RateRun.sequential(sequential, process: agentA, other: agentB, servers: serverCPU) { i in try await a.get("/bench/\(i % 100)") }
            say("get, sequential: \(getSeq.summary)")
            let getConc = try await RateRun.concurrent(workers, seconds: seconds, process: agentA, other: agentB, servers: serverCPU) { i in try await a.get("/bench/\(i % 100)") }
            say("get, \(workers) concurrent: \(getConc.summary)")
            // Every push is accounted for: the paths sum to all pushes made.
            let pushed = 200 + pushSeq.count + pushConc.count
            var sum = 0.0
            for p in 0..<100 { sum += try await a.get("/bench/\(p)") }
            let check = sum == Double(pushed) ? "the 100 paths on A sum to the \(Self.grouped(pushed)) pushes made"
                : "**check failed**: the 100 paths on A sum to \(sum), \(Self.grouped(pushed)) pushes were made"
            say(check)

            // 3. durability: full, on agent C.
            let (agentC, socketC) = try agent("c", conf: "/conf-full")
            let c = AgentAPI(http: http, socket: socketC)
            for i in 0..<100 { _ = try await c.push("/full/\(i)") }
            let fullSeq = try await RateRun.sequential(Swift.min(sequential, 2_000), process: agentC, other: agentB, servers: serverCPU) { i in try await c.push("/full/\(i % 100)") }
            say("push, durability full, sequential: \(fullSeq.summary)")
            let fullConc = try await RateRun.concurrent(workers, seconds: seconds, process: agentC, other: agentB, servers: serverCPU) { i in try await c.push("/full/\(i % 100)") }
            say("push, durability full, \(workers) concurrent: \(fullConc.summary)")
            agentC.stop()
            rows.append(pushSeq.row("`POST /v1/push`, sequential"))
            rows.append(pushConc.row("`POST /v1/push`, \(workers) concurrent workers"))
            rows.append(fullSeq.row("`POST /v1/push`, `durability: full` (agent C), sequential"))
            rows.append(fullConc.row("`POST /v1/push`, `durability: full` (agent C), \(workers) concurrent workers"))
            rows.append(getSeq.row("`GET /v1/value`, sequential"))
            rows.append(getConc.row("`GET /v1/value`, \(workers) concurrent workers"))

            // 4. End to end: push on A → B's watch.
            let watchB = try await SSEWatch.open(apiB, path: "/lat")
            let warmup = 20
            var api: [Duration] = [], apiCall: [Duration] = []
            let watchdog = Watchdog("latency", seconds: 120 + Double(pushes) / 5, note: " (the agents are left running: stop them by PID)")
            for i in 0..<(warmup + pushes) {
                let start = ContinuousClock.now
                let value = try await a.push("/lat")
                let answered = ContinuousClock.now
                let arrival = try await watchB.until(value)
                if i >= warmup {
                    api.append(arrival - start)
                    apiCall.append(answered - start)
                }
            }
            watchdog.done()
            let e2e = Quantiles(api), call = Quantiles(apiCall)
            say("push on A (local API) → B's watch: p50 \(e2e.p50) p90 \(e2e.p90) p99 \(e2e.p99) max \(e2e.max); the push call \(call.p50) p50")

            let watchB2 = try await SSEWatch.open(apiB, path: "/lat2")
            var viaCLI: [Duration] = [], cliExit: [Duration] = []
            let cliWatchdog = Watchdog("CLI latency", seconds: 120 + Double(cliPushes) * 2, note: " (the agents are left running: stop them by PID)")
            var expected = 0.0
            for i in 0..<(2 + cliPushes) {
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
            let cliQ = Quantiles(viaCLI), ce = Quantiles(cliExit)
            say("push by `teabag push` on A → B's watch: p50 \(cliQ.p50) p90 \(cliQ.p90) p99 \(cliQ.p99) max \(cliQ.max); the CLI process start → exit p50 \(ce.p50)")
            watchB.close()
            watchB2.close()
            let cpuA = agentA.cpuSeconds(), cpuB = agentB.cpuSeconds(), cpuServers = serverCPU()
            for process in processes.reversed() { process.stop() }
            processes = []

            // 5. The same push rates on `teabag dev` (everything in one process).
            let dev = try AgentBenchProcess.start(binary, ["dev", "--data", directory + "/dev", "--port", "0"], log: directory + "/dev.log")
            processes.append(dev)
            let devAPI = AgentAPI(http: http, socket: try dev.wait(for: "teabag agent listening on unix:", seconds: 60))
            for i in 0..<200 { _ = try await devAPI.push("/bench/\(i % 100)") }
            let none = { 0.0 }
            var devSeq = try await RateRun.sequential(sequential, process: dev, other: dev, servers: none) { i in try await devAPI.push("/bench/\(i % 100)") }
            say("teabag dev: push, sequential: \(devSeq.summary)")
            var devConc = try await RateRun.concurrent(workers, seconds: seconds, process: dev, other: dev, servers: none) { i in try await devAPI.push("/bench/\(i % 100)") }
            say("teabag dev: push, \(workers) concurrent: \(devConc.summary)")
            // No agent B here: its column stays empty.
            devSeq.cpuB = 0
            devConc.cpuB = 0
            dev.stop()
            processes = []
            try? await http.shutdown()
            let loadAfter = AgentBenchProcess.uptime()

            let markdown = """
            # Agent benchmark

            \(trial ? "> **Trial run on a loaded machine** (other builds and tests were running): these figures show that the bench runs end to end and where things stand, not the agent's speed. The figures of record are pending: median of 3 runs on a quiet machine, release build.\n\n" : "")\
            `swift run -c release teabag-bench agent\(trial ? " --trial" : "")` on \(Report.machine()), \(ISO8601DateFormatter().string(from: started)), \
            \(Int(Date().timeIntervalSince(started))) s in all. Machine load (`uptime`) before the run: `\(loadBefore)`; after: \
            `\(loadAfter)`.

            Real processes of the release binary `\(binary)` (`swift build -c release --product teabag`), started by the bench, \
            each its own process so that an agent's figures are its own:

            - `teabag table` and two `teabag store`s (`durability: normal`), user 1 enrolled in channel `main` on both \
            stores (docs/protocol.md#enrollment, over HTTP);
            - agents **A** and **B**, `teabag agent --table-url <table>/ --user 1 --master <master> --data <tmp>/a|b \
            --plugins Plugins`: two devices of user 1, each with its own session, SQLite storage (`durability: normal`) \
            and SSE streams to both stores;
            - agent **C**, the same with `agent.durability: full`, for the fsync figures only;
            - then, alone, `teabag dev --data <tmp>/dev --port 0` (a table, two stores and an agent in one process), for \
            the push rates of the one-process setup.

            All stopped by PID (SIGTERM). CPU in all: A \(String(format: "%.1f", cpuA)) s, B \(String(format: "%.1f", cpuB)) s, \
            table and stores \(String(format: "%.1f", cpuServers)) s. The bench talks to the agents over their Unix sockets \
            with AsyncHTTPClient (`http+unix://<socket>/v1/…`, keep-alive connections). Everything, bench included, shares \
            the machine's \(ProcessInfo.processInfo.activeProcessorCount) cores.

            ## Local API rates

            `POST /v1/push/main/counter/bench/<i % 100>` with body `1`, and `GET /v1/value/main/counter/bench/<i % 100>`; \
            sequential: \(Self.grouped(sequential)) requests one after another on one connection (\(Self.grouped(Swift.min(sequential, 2_000))) \
            for C); concurrent: \(workers) workers, each sending its next request when the previous answered, for \
            \(String(format: "%.0f", seconds)) s. Latency is per request, from the call to the collected answer. Untimed pushes \
            first (200 on A, 100 on C). A push answers once the agent holds the op on disk (validated by the C `counter` \
            plugin, committed to the SQLite outbox by the agent's storage thread — concurrent pushes share a commit — then \
            applied locally); the stores get it afterwards, in the background. Check: \(check).

            | run | ops/s | p50 | p99 | max | cores busy: agent / B / table+stores / bench |
            | --- | ---: | ---: | ---: | ---: | ---: |
            \(rows.joined(separator: "\n"))

            *Cores busy*: CPU seconds per second during the run of the agent measured (A, or C), of agent B (taking every op \
            from both stores' streams), of the table and both stores together, and of the bench process (the load generator).

            ### `teabag dev`

            The same push runs against the agent of `teabag dev`, whose process also runs the table and both stores (they \
            commit, fold and stream every op, on the same cores): *cores busy* is the whole dev process.

            | run | ops/s | p50 | p99 | max | cores busy: dev / – / – / bench (the dashes print 0.00) |
            | --- | ---: | ---: | ---: | ---: | ---: |
            \(devSeq.row("`POST /v1/push`, sequential"))
            \(devConc.row("`POST /v1/push`, \(workers) concurrent workers"))

            ## Push on A → event on B's watch

            B has `GET /v1/watch?channel=main&type=counter&path=/lat` open (SSE, one `data: {channel,type,path,value,sha}` \
            per change). One push at a time on A (`+1`, so every value is new); each is timed from the start of the push \
            until B's watch yields that value (or a later one); the next push starts only then. \(warmup) untimed pushes \
            first, then \(Self.grouped(pushes)) timed. Then the same with the push made by starting the CLI, \
            `teabag push --agent <socket A> main counter /lat2 1`, watched on `/lat2` (2 untimed, \(cliPushes) timed), \
            timed from spawning the process.

            | push made by | p50 | p90 | p99 | max |
            | --- | ---: | ---: | ---: | ---: |
            | the local API (`POST /v1/push` on A's socket) | \(e2e.p50) | \(e2e.p90) | \(e2e.p99) | \(e2e.max) |
            | ↳ the `POST /v1/push` call alone | \(call.p50) | \(call.p90) | \(call.p99) | \(call.max) |
            | the CLI (`teabag push`, a new process each time) | \(cliQ.p50) | \(cliQ.p90) | \(cliQ.p99) | \(cliQ.max) |
            | ↳ the CLI process, spawn → exit | \(ce.p50) | \(ce.p90) | \(ce.p99) | \(ce.max) |

            ## Against issue 15's goals

            | measurement | goal | this run |
            | --- | --- | --- |
            | `POST /v1/push` sequential, `durability: normal` | ≥ 3,000/s | \(pushSeq.rateText)/s |
            | the same, \(workers) concurrent clients | ≥ 15,000/s | \(pushConc.rateText)/s |
            | `durability: full`, \(workers) clients | ≥ 5,000/s | \(fullConc.rateText)/s |
            | `GET /v1/value`, \(workers) clients | ≥ 30,000/s | \(getConc.rateText)/s |
            | push on A → event at B's `/v1/watch` | p50 ≤ 2 ms, p99 ≤ 5 ms | p50 \(e2e.p50), p99 \(e2e.p99) |
            | 5,000 pushes/s sustained for 60 s, outbox drained within 1 s | — | not measured by this bench yet |
            | agent RSS per held path | ≤ 2 KiB | not measured by this bench yet |

            ## Notes

            - **The CLI** adds the start of a new process of a ~110 MB Swift binary (dynamic loading, Foundation, \
            configuration, an HTTP client) to each push: \(cliQ.p50) p50 to B's watch, against \(e2e.p50) through the \
            local API. Programs that write often should keep a connection to the socket (or link `TeaBag`) rather \
            than run `teabag push` per write.
            - Everything shares \(ProcessInfo.processInfo.activeProcessorCount) virtual cores with whatever else runs (see the \
            load above); runs vary by 20–40 % here, the push rates most. The goals are for the median of 3 runs on a quiet machine.

            """
            try Report.write(markdown, to: out)
            say("written to \(out) (processes' logs were in \(directory))")
            try? FileManager.default.removeItem(atPath: directory)
        } catch {
            for process in processes.reversed() { process.stop() }
            try? await http.shutdown()
            say("failed; the processes' logs are in \(directory)")
            throw error
        }
    }

    static func grouped(_ n: Int) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = ","
        return formatter.string(from: NSNumber(value: n)) ?? "\(n)"
    }
}

// MARK: - The servers

/// User 1 enrolled in channel `main` on every store (docs/protocol.md#enrollment), as
/// `teabag dev` does it: the master set at the table, the user created on
/// each store, each store's code given to the table.
struct BenchCluster: Sendable {
    let tableKey: String
    let storeKey: String
    let master: String

    static func slash(_ url: String) -> String { url.hasSuffix("/") ? url : url + "/" }

    func enroll(http: HTTPClient, tableURL: String, storeURLs: [String]) async throws {
        let segment = master.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? master
        _ = try await call(http, .PUT, tableURL + "admin/user/1/master/" + segment, basic: ("admin", tableKey))
        for storeURL in storeURLs {
            _ = try await call(http, .PUT, storeURL + "admin/user/1", basic: ("admin", storeKey))
            let code = try await call(http, .GET, storeURL + "admin/user/1/code", basic: ("admin", storeKey))["code"]?.stringValue ?? ""
            _ = try await call(http, .POST, tableURL + "user/1/table/main/store", basic: ("1", master),
                               body: ["store_url": .string(storeURL + "user/1/"), "code": .string(code)])
        }
    }

    private func call(_ http: HTTPClient, _ method: HTTPMethod, _ url: String, basic: (String, String), body: JSON? = nil) async throws -> JSON {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Basic " + Data("\(basic.0):\(basic.1)".utf8).base64EncodedString())
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body.canonicalBytes))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { throw BenchError("\(method) \(url): \(response.status) \(String(buffer: bytes))") }
        return (try? JSON.parse(Array(buffer: bytes))) ?? .null
    }
}

// MARK: - The agents' local API

struct AgentAPI: Sendable {
    let http: HTTPClient
    let base: String

    init(http: HTTPClient, socket: String) {
        self.http = http
        let absolute = socket.hasPrefix("/") ? socket : FileManager.default.currentDirectoryPath + "/" + socket
        let encoded = absolute.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? absolute
        base = "http+unix://\(encoded)"
    }

    /// `POST /v1/push/main/counter<path>` body `1`; the new local value.
    func push(_ path: String) async throws -> Double {
        var request = HTTPClientRequest(url: base + "/v1/push/main/counter" + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: "1"))
        return try await value(request)
    }

    /// `GET /v1/value/main/counter<path>`; the value (0 when none).
    func get(_ path: String) async throws -> Double {
        try await value(HTTPClientRequest(url: base + "/v1/value/main/counter" + path))
    }

    private func value(_ request: HTTPClientRequest) async throws -> Double {
        let response = try await http.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { throw BenchError("\(request.method) \(request.url): \(response.status) \(String(buffer: bytes))") }
        let json = try JSON.parse(Array(buffer: bytes))
        return json["value"]?.doubleValue ?? 0
    }
}

/// B's `GET /v1/watch` for one counter path: each event's value and when it arrived.
final class SSEWatch {
    private let task: Task<Void, Never>
    private var iterator: AsyncStream<(Double, ContinuousClock.Instant)>.Iterator

    private init(task: Task<Void, Never>, events: AsyncStream<(Double, ContinuousClock.Instant)>) {
        self.task = task
        iterator = events.makeAsyncIterator()
    }

    static func open(_ api: AgentAPI, path: String) async throws -> SSEWatch {
        let request = HTTPClientRequest(url: api.base + "/v1/watch?channel=main&type=counter&path=\(path)")
        let response = try await api.http.execute(request, timeout: .hours(2))
        guard response.status == .ok else { throw BenchError("watch: \(response.status)") }
        let (events, sink) = AsyncStream<(Double, ContinuousClock.Instant)>.makeStream()
        let body = response.body
        let task = Task {
            var line: [UInt8] = []
            let prefix = Array("data: ".utf8)
            do {
                for try await buffer in body {
                    let now = ContinuousClock.now
                    for byte in buffer.readableBytesView {
                        if byte != UInt8(ascii: "\n") { line.append(byte); continue }
                        if line.starts(with: prefix), let json = try? JSON.parse(Array(line.dropFirst(prefix.count))),
                           let value = json["value"]?.doubleValue {
                            sink.yield((value, now))
                        }
                        line.removeAll(keepingCapacity: true)
                    }
                }
            } catch {}
            sink.finish()
        }
        return SSEWatch(task: task, events: events)
    }

    /// When the watch yielded `value` or a later one (counter values only grow).
    func until(_ value: Double) async throws -> ContinuousClock.Instant {
        var it = iterator
        defer { iterator = it }
        while let (seen, at) = await it.next() {
            if seen >= value { return at }
        }
        throw BenchError("B's watch ended")
    }

    func close() { task.cancel() }
}

// MARK: - Rates

struct RateRun {
    var count = 0
    var elapsed = 0.0
    var latencies: [Duration] = []
    var cpu = 0.0  // cores busy in the measured process (dev: table, stores, agent A)
    var cpuB = 0.0  // … in agent B
    var cpuServers = 0.0  // … in the table and stores
    var cpuBench = 0.0  // … in this process (the load generator)

    var rate: Double { Double(count) / elapsed }
    var p50: Double { Quantiles(latencies).value(0.5) }
    var rateText: String {
        let step = rate >= 10_000 ? 100.0 : 10.0
        return AgentBench.grouped(Int((rate / step).rounded() * step))
    }
    var summary: String {
        let q = Quantiles(latencies)
        return "\(rateText)/s (\(count) in \(String(format: "%.2f", elapsed)) s), p50 \(q.p50) p99 \(q.p99); cores busy: agent \(String(format: "%.2f", cpu)), B \(String(format: "%.2f", cpuB)), servers \(String(format: "%.2f", cpuServers)), bench \(String(format: "%.2f", cpuBench))"
    }

    func row(_ name: String) -> String {
        let q = Quantiles(latencies)
        return "| \(name) | \(rateText) | \(q.p50) | \(q.p99) | \(q.max) | \(String(format: "%.2f / %.2f / %.2f / %.2f", cpu, cpuB, cpuServers, cpuBench)) |"
    }

    static func sequential(_ n: Int, process: AgentBenchProcess, other: AgentBenchProcess, servers: () -> Double,
                           _ body: (Int) async throws -> Double) async throws -> RateRun {
        var run = RateRun()
        run.latencies.reserveCapacity(n)
        let cpuStart = process.cpuSeconds(), cpuBStart = other.cpuSeconds(), benchStart = AgentBenchProcess.selfCPUSeconds()
        let serversStart = servers()
        let start = ContinuousClock.now
        for i in 0..<n {
            let t = ContinuousClock.now
            _ = try await body(i)
            run.latencies.append(ContinuousClock.now - t)
        }
        run.elapsed = Quantiles.seconds(ContinuousClock.now - start)
        run.cpu = (process.cpuSeconds() - cpuStart) / run.elapsed
        run.cpuB = (other.cpuSeconds() - cpuBStart) / run.elapsed
        run.cpuBench = (AgentBenchProcess.selfCPUSeconds() - benchStart) / run.elapsed
        run.cpuServers = (servers() - serversStart) / run.elapsed
        run.count = n
        return run
    }

    static func concurrent(_ workers: Int, seconds: Double, process: AgentBenchProcess, other: AgentBenchProcess, servers: () -> Double,
                           _ body: @escaping @Sendable (Int) async throws -> Double) async throws -> RateRun {
        var run = RateRun()
        let cpuStart = process.cpuSeconds(), cpuBStart = other.cpuSeconds(), benchStart = AgentBenchProcess.selfCPUSeconds()
        let serversStart = servers()
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int(seconds * 1000))
        try await withThrowingTaskGroup(of: [Duration].self) { group in
            for w in 0..<workers {
                group.addTask {
                    var mine: [Duration] = []
                    var i = w
                    while ContinuousClock.now < deadline {
                        let t = ContinuousClock.now
                        _ = try await body(i)
                        mine.append(ContinuousClock.now - t)
                        i += workers
                    }
                    return mine
                }
            }
            for try await mine in group { run.latencies += mine }
        }
        run.elapsed = Quantiles.seconds(ContinuousClock.now - start)
        run.cpu = (process.cpuSeconds() - cpuStart) / run.elapsed
        run.cpuB = (other.cpuSeconds() - cpuBStart) / run.elapsed
        run.cpuBench = (AgentBenchProcess.selfCPUSeconds() - benchStart) / run.elapsed
        run.cpuServers = (servers() - serversStart) / run.elapsed
        run.count = run.latencies.count
        return run
    }
}

// MARK: - Processes

/// A child process of the teabag binary: stdout kept (to find its
/// readiness lines), stderr to a log file, stopped by its PID.
final class AgentBenchProcess: @unchecked Sendable {
    private let process: Process
    private let output = Mutex<String>("")
    private let exited = Mutex<ContinuousClock.Instant?>(nil)
    var pid: Int32 { process.processIdentifier }

    private init(process: Process) { self.process = process }

    static func start(_ binary: String, _ arguments: [String], log: String) throws -> AgentBenchProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        if !FileManager.default.fileExists(atPath: log) { FileManager.default.createFile(atPath: log, contents: nil) }
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        logHandle.seekToEndOfFile()
        process.standardError = logHandle
        let child = AgentBenchProcess(process: process)
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil; return }
            child.output.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        process.terminationHandler = { _ in child.exited.withLock { $0 = ContinuousClock.now } }
        try process.run()
        try? logHandle.close()
        return child
    }

    /// The rest of the first stdout line starting with `prefix`.
    func wait(for prefix: String, seconds: Double) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let found: String? = output.withLock { text in
                text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }).map { String($0.dropFirst(prefix.count)) }
            }
            if let found { return found.trimmingCharacters(in: .whitespaces) }
            if !process.isRunning { throw BenchError("\(process.executableURL?.path ?? "") \(process.arguments?.first ?? "") exited \(process.terminationStatus) before printing \"\(prefix)\"") }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw BenchError("no \"\(prefix)\" within \(Int(seconds)) s from pid \(pid)")
    }

    /// Waits for the process to end: its status and when it ended.
    func waitExit(seconds: Double) async throws -> (status: Int32, at: ContinuousClock.Instant) {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if let at = exited.withLock({ $0 }) {
                process.waitUntilExit()
                return (process.terminationStatus, at)
            }
            try await Task.sleep(for: .microseconds(200))
        }
        throw BenchError("pid \(pid) did not exit within \(Int(seconds)) s")
    }

    /// SIGTERM by PID; SIGKILL if it is still running 15 s later.
    func stop() {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            say("pid \(pid) still running 15 s after SIGTERM; SIGKILL")
            kill(pid, SIGKILL)
        }
        process.waitUntilExit()
    }

    /// utime + stime of the process so far (from /proc/<pid>/stat).
    func cpuSeconds() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime 14, stime 15 (1-based over the whole line).
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func selfCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    static func uptime() -> String {
        let pipe = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/uptime")
        process.standardOutput = pipe
        guard (try? process.run()) != nil else { return (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?" }
        process.waitUntilExit()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
