/// Agent figures (issue 6), against real processes: `teabag dev` (a table,
/// two stores and agent A in one process) and a second `teabag agent` (B),
/// both the release binary `.build/release/teabag`, started and stopped
/// (SIGTERM, by PID) by the bench. Measured over the agents' Unix sockets:
/// the local API's push and get rates, and push on A → B's watch event,
/// through the local API and through the CLI.
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

    func run() async throws {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchError("\(binary) is missing: swift build -c release --product teabag")
        }
        let started = Date()
        let loadBefore = AgentBenchProcess.uptime()
        let directory = NSTemporaryDirectory() + "teabag-bench-agent-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/conf-b", withIntermediateDirectories: true)
        var processes: [AgentBenchProcess] = []
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(workers, 4) + 4)))
        do {
            // 1. The processes.
            let dev = try AgentBenchProcess.start(binary, ["dev", "--data", directory + "/dev", "--port", "0"], log: directory + "/dev.log")
            processes.append(dev)
            let socketA = try dev.wait(for: "teabag agent listening on unix:", seconds: 60)
            let tableURL = try dev.wait(for: "teabag table listening on ", seconds: 5)
            let devState = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/dev/dev.json"))))
            guard let master = devState["master"]?.stringValue else { throw BenchError("no master in dev.json") }
            let b = try AgentBenchProcess.start(binary, [
                "agent", "--config", directory + "/conf-b", "--table-url", (tableURL.hasSuffix("/") ? tableURL : tableURL + "/"),
                "--user", "1", "--master", master, "--data", directory + "/b", "--plugins", "Plugins",
            ], log: directory + "/b.log")
            processes.append(b)
            let socketB = try b.wait(for: "teabag agent listening on unix:", seconds: 60)
            let a = AgentAPI(http: http, socket: socketA), apiB = AgentAPI(http: http, socket: socketB)
            say("dev (pid \(dev.pid)): table \(tableURL), agent A unix:\(socketA); agent B (pid \(b.pid)) unix:\(socketB); \(loadBefore)")

            // 2. Local API rates on A.
            for i in 0..<200 { _ = try await a.push("/bench/\(i % 100)") }  // warm-up, paths created
            var rows: [String] = []
            let pushSeq = try await RateRun.sequential(sequential, process: dev, other: b) { i in try await a.push("/bench/\(i % 100)") }
            say("push, sequential: \(pushSeq.summary)")
            let pushConc = try await RateRun.concurrent(workers, seconds: seconds, process: dev, other: b) { i in try await a.push("/bench/\(i % 100)") }
            say("push, \(workers) concurrent: \(pushConc.summary)")
            let getSeq = try await RateRun.sequential(sequential, process: dev, other: b) { i in try await a.get("/bench/\(i % 100)") }
            say("get, sequential: \(getSeq.summary)")
            let getConc = try await RateRun.concurrent(workers, seconds: seconds, process: dev, other: b) { i in try await a.get("/bench/\(i % 100)") }
            say("get, \(workers) concurrent: \(getConc.summary)")
            rows.append(pushSeq.row("`POST /v1/push`, sequential"))
            rows.append(pushConc.row("`POST /v1/push`, \(workers) concurrent workers"))
            rows.append(getSeq.row("`GET /v1/value`, sequential"))
            rows.append(getConc.row("`GET /v1/value`, \(workers) concurrent workers"))
            // Every push is accounted for: the paths sum to all pushes made.
            let pushed = 200 + pushSeq.count + pushConc.count
            var sum = 0.0
            for p in 0..<100 { sum += try await a.get("/bench/\(p)") }
            let check = sum == Double(pushed) ? "the 100 paths on A sum to the \(Self.grouped(pushed)) pushes made"
                : "**check failed**: the 100 paths on A sum to \(sum), \(Self.grouped(pushed)) pushes were made"
            say(check)

            // 3. End to end: push on A → B's watch.
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
            let c = Quantiles(viaCLI), ce = Quantiles(cliExit)
            say("push by `teabag push` on A → B's watch: p50 \(c.p50) p90 \(c.p90) p99 \(c.p99) max \(c.max); the CLI process start → exit p50 \(ce.p50)")
            watchB.close()
            watchB2.close()
            let cpuA = dev.cpuSeconds(), cpuB = b.cpuSeconds()
            try? await http.shutdown()
            for process in processes.reversed() { process.stop() }
            let loadAfter = AgentBenchProcess.uptime()

            let markdown = """
            # Agent benchmark

            `swift run -c release teabag-bench agent` on \(Report.machine()), \(ISO8601DateFormatter().string(from: started)), \
            \(Int(Date().timeIntervalSince(started))) s in all. Machine load (`uptime`) before the run: `\(loadBefore)`; after: \
            `\(loadAfter)`.

            Real processes of the release binary `\(binary)` (`swift build -c release --product teabag`), started by the bench:

            - `teabag dev --data <tmp>/dev --port 0` — a table, two stores (`durability: normal`) and agent **A** in one \
            process, user 1 enrolled in channel `main` on both stores;
            - `teabag agent --config <empty dir> --table-url <table>/ --user 1 --master <dev.json's master> --data <tmp>/b \
            --plugins Plugins` — agent **B**, a second device of user 1 (its own session, SQLite storage and SSE streams to \
            both stores).

            Both stopped by PID (SIGTERM) at the end; they used \(String(format: "%.1f", cpuA)) s (dev) and \
            \(String(format: "%.1f", cpuB)) s (B) of CPU in all. The bench talks to the agents over their Unix sockets with \
            AsyncHTTPClient (`http+unix://<socket>/v1/…`, keep-alive connections). Everything, bench included, shares the \
            machine's \(ProcessInfo.processInfo.activeProcessorCount) cores.

            ## Local API rates (agent A)

            `POST /v1/push/main/counter/bench/<i % 100>` with body `1`, and `GET /v1/value/main/counter/bench/<i % 100>`; \
            sequential: \(Self.grouped(sequential)) requests one after another on one connection; concurrent: \(workers) \
            workers, each sending its next request when the previous answered, for \(String(format: "%.0f", seconds)) s. \
            Latency is per request, from the call to the collected answer. 200 untimed pushes first. The push answers \
            once A holds the op on disk (validated by the C `counter` plugin, applied locally, appended to the SQLite \
            outbox); the stores get it afterwards, in the background. Check: \(check).

            | run | ops/s | p50 | p99 | max | cores busy: dev / B / bench |
            | --- | ---: | ---: | ---: | ---: | ---: |
            \(rows.joined(separator: "\n"))

            *Cores busy*: CPU seconds per second during the run of the whole `teabag dev` process (table, both stores \
            taking the pushed ops from A's outbox and streaming them back to A and B, and agent A), of agent B (taking \
            every op from both stores' streams), and of the bench process (the load generator).

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
            | the CLI (`teabag push`, a new process each time) | \(c.p50) | \(c.p90) | \(c.p99) | \(c.max) |
            | ↳ the CLI process, spawn → exit | \(ce.p50) | \(ce.p90) | \(ce.p99) | \(ce.max) |

            ## Notes

            - **A push costs about \(String(format: "%.1f", pushSeq.p50 / Swift.max(getSeq.p50, 0.001)))× a get** (p50 \
            \(Quantiles(pushSeq.latencies).p50) against \(Quantiles(getSeq.latencies).p50), sequential). Both pay \
            the same HTTP round trip over the Unix socket; the push adds the plugin's `validate`, the local apply and one \
            SQLite transaction for the outbox row (`SQLiteClientStorage`: WAL, `synchronous=NORMAL`, so a commit and a \
            WAL append per push but no fsync), done on the client runtime's actor before the answer. Pushes look \
            serialized there (not profiled): \(workers) concurrent workers get \(String(format: "%.1f", pushConc.rate / pushSeq.rate))× the \
            sequential rate while their p50 grows to \(Quantiles(pushConc.latencies).p50). The same actor also \
            takes every op back from both stores' streams, and the dev process also runs both stores, which commit, fold \
            and stream every op: that, not the socket, is where the dev process's \(String(format: "%.2f", pushConc.cpu)) \
            busy cores go during the concurrent push run. Gets only read the folded value, and scale with workers \
            until the two cores are shared between the dev process and the bench.
            - **Compared with the in-process client** (`client.md`): there the `push` call (in-memory storage, no HTTP) \
            takes about 0.04 ms p50 and push → update on another client about 1.7 ms p50; through two agents the push \
            call is \(call.p50) and push → B's watch \(e2e.p50) p50: the local API hop and the SQLite outbox add about a \
            millisecond, the path through the stores is the same. A store's own POST → SSE event is about 1 ms p50 \
            (`store.md`).
            - **The CLI** adds the start of a new process of a ~110 MB Swift binary (dynamic loading, Foundation, \
            configuration, an HTTP client) to each push: \(c.p50) p50 to B's watch, against \(e2e.p50) through the \
            local API. Programs that write often should keep a connection to the socket (or link `TeaBag`) rather \
            than run `teabag push` per write.
            - Everything shares two virtual cores with whatever else runs (see the load above); runs vary by 20–40 % \
            here, the push rates most.

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
    var cpuBench = 0.0  // … in this process (the load generator)

    var rate: Double { Double(count) / elapsed }
    var p50: Double { Quantiles(latencies).value(0.5) }
    var rateText: String {
        let step = rate >= 10_000 ? 100.0 : 10.0
        return AgentBench.grouped(Int((rate / step).rounded() * step))
    }
    var summary: String {
        let q = Quantiles(latencies)
        return "\(rateText)/s (\(count) in \(String(format: "%.2f", elapsed)) s), p50 \(q.p50) p99 \(q.p99); cores busy: dev \(String(format: "%.2f", cpu)), B \(String(format: "%.2f", cpuB)), bench \(String(format: "%.2f", cpuBench))"
    }

    func row(_ name: String) -> String {
        let q = Quantiles(latencies)
        return "| \(name) | \(rateText) | \(q.p50) | \(q.p99) | \(q.max) | \(String(format: "%.2f / %.2f / %.2f", cpu, cpuB, cpuBench)) |"
    }

    static func sequential(_ n: Int, process: AgentBenchProcess, other: AgentBenchProcess, _ body: (Int) async throws -> Double) async throws -> RateRun {
        var run = RateRun()
        run.latencies.reserveCapacity(n)
        let cpuStart = process.cpuSeconds(), cpuBStart = other.cpuSeconds(), benchStart = AgentBenchProcess.selfCPUSeconds()
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
        run.count = n
        return run
    }

    static func concurrent(_ workers: Int, seconds: Double, process: AgentBenchProcess, other: AgentBenchProcess,
                           _ body: @escaping @Sendable (Int) async throws -> Double) async throws -> RateRun {
        var run = RateRun()
        let cpuStart = process.cpuSeconds(), cpuBStart = other.cpuSeconds(), benchStart = AgentBenchProcess.selfCPUSeconds()
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
