/// Client runtime figures (issue 5): push → update latency between two
/// clients, the push rate of one client into two stores (accepted locally,
/// and end to end), and the memory a client needs per path it holds.
/// A real table and two real stores (durability `normal`) run in the bench
/// process on 127.0.0.1. The memory figure, and one run of the push rate,
/// put the client in a child process (this binary again), so that the
/// stores' memory and CPU are not counted with the client's.
import ArgumentParser
import Foundation
import Logging
import Synchronization
import TeaBag
import TeaBagCore
import TeaBagPlugins
import TeaBagServerKit
import TeaBagStore
import TeaBagTable
#if canImport(Glibc)
import Glibc
#endif

struct ClientBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client", abstract: "Push → update latency, push rate into two stores, and memory per held path of the client runtime.")

    @Option(help: "Timed pushes of the latency measurement.") var pushes = 2_000
    @Option(help: "Untimed pushes before them.") var warmup = 100
    @Option(help: "Ops of the push-rate measurement.") var ops = 50_000
    @Option(help: "Paths the push-rate ops are spread over.") var paths = 100
    @Option(help: "Paths of each step of the memory measurement.") var memoryPaths = 10_000
    @Option(help: "Where to write the report.") var out = "docs/benchmarks/client.md"
    @Option(help: "Only these measurements (comma-separated: latency,rate,memory); the report is written only when all run.")
    var only: String?

    // The child process (this binary: `client --child-task … --child-table … --child-session …`).
    @Option(help: .hidden) var childTask: String?
    @Option(help: .hidden) var childTable = ""
    @Option(help: .hidden) var childSession = ""
    @Option(help: .hidden) var childStorage = "memory"
    @Option(help: .hidden) var childPrefix = "/child"

    func run() async throws {
        if let childTask {
            let (storage, directory) = try ChildProcess.storage(childStorage)
            defer { if let directory { try? FileManager.default.removeItem(atPath: directory) } }
            let client = try await ClientBenchReport.startClient(tableURL: childTable, session: childSession, storage: storage)
            if childTask == "rate" {
                let figures = try await RateMeasure.push(client, ops: ops, paths: paths, prefix: childPrefix) { say("PHASE \($0)") }
                await client.close()
                say("RESULT " + figures.json.canonicalString)
            } else {
                try await MemoryChild.run(client, paths: memoryPaths, storage: childStorage)
            }
            return
        }
        let wanted = Set((only ?? "latency,rate,memory").split(separator: ",").map { String($0) })
        let started = Date()
        let loadBefore = ClientBenchReport.loadAverage()
        let machineStart = ClientBenchReport.CPUSample()
        let deployment = try await TwoStoreDeployment.start()
        say("table \(deployment.tableURL), stores \(deployment.storeURLs.joined(separator: ", ")) (durability normal); load average \(loadBefore)")
        var sections: [String] = []
        var goals: [String] = []

        if wanted.contains("latency") {
            let (section, goal) = try await LatencyMeasure.run(deployment, pushes: pushes, warmup: warmup)
            sections.append(section)
            goals.append(goal)
        }
        if wanted.contains("rate") {
            let (section, goal) = try await RateMeasure.run(deployment, ops: ops, paths: paths)
            sections.append(section)
            goals.append(goal)
        }
        if wanted.contains("memory") {
            sections.append(try await MemoryMeasure.run(deployment, paths: memoryPaths))
        }
        await deployment.stop()
        let loadAfter = ClientBenchReport.loadAverage()

        let others = ClientBenchReport.otherCores(since: machineStart)
        let busyNote = String(format: "; other processes used %.2f cores on average during the run", others)
            + (others > 0.15 ? ", so the rates below are on the low side" : "")
        let markdown = """
        # Client benchmark

        `swift run -c release teabag-bench client` on \(Report.machine()), \(ISO8601DateFormatter().string(from: started)), \
        \(Int(Date().timeIntervalSince(started))) s in all. A real table and two real stores (`durability: normal`, the C \
        `counter` plugin validating and folding) in the bench process on 127.0.0.1, user 1 enrolled on both under channel \
        `main` through the real routes (table admin, store admin code, enrollment, session); the clients are \
        `TeaBagClient`s with a session made at the table, the shipped plugins, in-memory storage unless said, and the \
        default policy (`prune.min_ops` 32, batches of 256). Everything shares the machine's two cores. Load average \
        (1 min) before the run: \(loadBefore), after: \(loadAfter)\(busyNote).

        Goals (issue 5, set for this machine): \(goals.joined(separator: "; ")).

        \(sections.joined(separator: "\n\n"))
        """
        if wanted.count == 3 {
            try Report.write(markdown + "\n", to: out)
            say("written to \(out)")
        } else {
            say("(partial run: \(out) not written)")
        }
    }
}

// MARK: - Deployment

/// A table and two stores in this process, user 1 enrolled on both under
/// channel `main`, and a session.
struct TwoStoreDeployment {
    let table: TableServer
    let stores: [StoreServer]
    let tableURL: String
    let storeURLs: [String]
    let storeTokens: [String]
    let session: String
    let services: InProcessServices
    let directory: String

    static func start() async throws -> TwoStoreDeployment {
        let directory = NSTemporaryDirectory() + "teabag-bench-client-\(UUID().uuidString)"
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let table = try BenchServers.table(directory: directory, logger: logger)
        let stores = try (0..<2).map { index in
            try BenchServers.store(directory: directory + "/store\(index)", durability: .normal, logger: logger)
        }
        let services = InProcessServices([table.application] + stores.map(\.application), logger: logger)
        while table.address.url == nil || stores.contains(where: { $0.address.url == nil }) { try await Task.sleep(for: .milliseconds(10)) }
        let tableURL = table.address.url! + "/"
        let storeURLs = stores.map { $0.address.url! + "/" }
        let (token, storeTokens) = try await BenchServers.enroll(tableURL: tableURL, storeURLs: storeURLs)
        return TwoStoreDeployment(table: table, stores: stores, tableURL: tableURL, storeURLs: storeURLs, storeTokens: storeTokens,
                                  session: token, services: services, directory: directory)
    }

    func stop() async {
        await services.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The value a store folds for a counter path (`GET value`).
    func value(store index: Int, path: String) async throws -> Double {
        let encoded = path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? path
        let answer = try await BenchHTTP.request("GET", storeURLs[index] + "user/1/value?type=counter&path=\(encoded)&store_token=\(storeTokens[index])")
        return answer["value"]?.doubleValue ?? 0
    }

    /// A started client of user 1 with the session, the shipped plugins and in-memory storage.
    func client() async throws -> TeaBagClient {
        try await ClientBenchReport.startClient(tableURL: tableURL, session: session, storage: InMemoryClientStorage())
    }
}

// MARK: - 1. push → update latency

enum LatencyMeasure {
    /// One push at a time on A; each timed from the call to `push` until B's
    /// `updates` stream yields that value (counter values are distinct).
    static func run(_ deployment: TwoStoreDeployment, pushes: Int, warmup: Int) async throws -> (String, String) {
        let a = try await deployment.client()
        let b = try await deployment.client()
        try await ClientBenchReport.waitConnected([a, b])
        let path = "/latency"
        // B yields into a stream of (value, arrival); arrival is taken as B's
        // stream hands the update over, so the waiting below costs nothing.
        let (arrivals, arrivalSink) = AsyncStream<(Double, ContinuousClock.Instant)>.makeStream()
        let updates = await b.updates("main", type: "counter", path: path)
        let consumer = Task {
            for await update in updates {
                let now = ContinuousClock.now
                if let value = update.value.doubleValue { arrivalSink.yield((value, now)) }
            }
            arrivalSink.finish()
        }
        var iterator = arrivals.makeAsyncIterator()
        var local: [Duration] = []
        var total: [Duration] = []
        let watchdog = Watchdog("latency", seconds: 60 + Double(pushes + warmup) / 20)
        for i in 0..<(warmup + pushes) {
            let start = ContinuousClock.now
            let value = try await a.push("main", "counter", path, 1)
            let applied = ContinuousClock.now
            guard let expected = value.doubleValue else { throw BenchError("push answered \(value)") }
            var arrival: ContinuousClock.Instant?
            while let (seen, at) = await iterator.next() {
                if seen == expected { arrival = at; break }
            }
            guard let arrival else { throw BenchError("B's update stream ended") }
            if i >= warmup {
                local.append(applied - start)
                total.append(arrival - start)
            }
        }
        watchdog.done()
        consumer.cancel()
        let prunes = await a.status().prunes
        await a.close()
        await b.close()
        _ = await consumer.result

        let t = Quantiles(total), l = Quantiles(local)
        say("latency: push → B's update p50 \(t.p50) p90 \(t.p90) p99 \(t.p99) max \(t.max) (the push call p50 \(l.p50) p99 \(l.p99)); A pruned \(prunes) times")
        let p50ok = t.value(0.5) <= 5, p99ok = t.value(0.99) <= 20
        let goal = "push → update p50 ≤ 5 ms (\(t.p50): \(p50ok ? "met" : "**not met**")) and p99 ≤ 20 ms (\(t.p99): \(p99ok ? "met" : "**not met**"))"
        let section = """
        ## Push → update latency

        Client A pushes `counter` +1 onto `\(path)` one op at a time; client B (same process, its own SSE streams to both \
        stores) has `updates("main", type: "counter", path: "\(path)")` open. Each push is timed from the call to `push` \
        on A until B's stream yields that push's value (values are distinct: the counter grows by one); the next push \
        starts only then. \(ClientBenchReport.grouped(warmup)) untimed pushes first, then \(ClientBenchReport.grouped(pushes)) timed. \
        A pruned the path \(prunes) time(s) meanwhile (a prune needs both stores to hold exactly A's oplog, which a push \
        in flight prevents).

        | measurement | p50 | p90 | p99 | max | goal | met |
        | --- | ---: | ---: | ---: | ---: | --- | --- |
        | push on A → update on B | \(t.p50) | \(t.p90) | \(t.p99) | \(t.max) | p50 ≤ 5 ms, p99 ≤ 20 ms | \(p50ok && p99ok ? "yes" : "no") |
        | ↳ the `push` call on A (validate, local apply, outbox) | \(l.p50) | \(l.p90) | \(l.p99) | \(l.max) | | |

        The rest is the path through the stores: A's outbox sends a batch, each store commits and streams it, B parses \
        the event, merges, folds and yields. `store.md` measures a store's own POST → SSE event at about 1 ms p50.
        """
        return (section, goal)
    }
}

// MARK: - 2. push rate

enum RateMeasure {
    /// What one run of the push loop measured (in the process of the client).
    struct Figures {
        var local = 0.0, delivered = 0.0, quiet = -1.0
        var prunes = 0, outboxAtEnd = 0, maxOutbox = 0
        /// CPU seconds of the client's process while pushing and until delivered.
        var cpuPushing = 0.0, cpuDelivering = 0.0

        var json: JSON {
            ["local": .number(local), "delivered": .number(delivered), "quiet": .number(quiet), "prunes": .number(Double(prunes)),
             "outbox_at_end": .number(Double(outboxAtEnd)), "max_outbox": .number(Double(maxOutbox)),
             "cpu_pushing": .number(cpuPushing), "cpu_delivering": .number(cpuDelivering)]
        }

        init() {}
        init(_ json: JSON) {
            local = json["local"]?.doubleValue ?? 0
            delivered = json["delivered"]?.doubleValue ?? 0
            quiet = json["quiet"]?.doubleValue ?? -1
            prunes = Int(json["prunes"]?.doubleValue ?? 0)
            outboxAtEnd = Int(json["outbox_at_end"]?.doubleValue ?? 0)
            maxOutbox = Int(json["max_outbox"]?.doubleValue ?? 0)
            cpuPushing = json["cpu_pushing"]?.doubleValue ?? 0
            cpuDelivering = json["cpu_delivering"]?.doubleValue ?? 0
        }
    }

    /// One client pushes `ops` ops as fast as sequential `push` calls go,
    /// round-robin over `paths` paths; then waits until both stores accepted
    /// every one (both outboxes empty) and the client is quiet. `phase` is
    /// told "start", "pushed" and "delivered" as they happen.
    static func push(_ client: TeaBagClient, ops: Int, paths: Int, prefix: String, phase: (String) -> Void = { _ in }) async throws -> Figures {
        try await ClientBenchReport.waitConnected([client])
        let watchdog = Watchdog("rate", seconds: 300)
        defer { watchdog.done() }
        // Warm-up: every path written once, carried to both stores, settled.
        for p in 0..<paths { try await client.push("main", "counter", prefix + String(p), 1) }
        try await ClientBenchReport.waitDelivered(client, seconds: 30)
        _ = try await ClientBenchReport.waitQuiet(client, seconds: 10)
        let prunesBefore = await client.status().prunes

        var figures = Figures()
        phase("start")
        let start = ContinuousClock.now
        let cpuStart = ClientBenchReport.cpuSeconds()
        for i in 0..<ops {
            try await client.push("main", "counter", prefix + String(i % paths), 1)
            if i % 1_000 == 999 { figures.maxOutbox = max(figures.maxOutbox, await ClientBenchReport.outboxDepth(client)) }
        }
        figures.local = Quantiles.seconds(ContinuousClock.now - start)
        figures.cpuPushing = ClientBenchReport.cpuSeconds() - cpuStart
        phase("pushed")
        figures.outboxAtEnd = await ClientBenchReport.outboxDepth(client)
        try await ClientBenchReport.waitDelivered(client, seconds: 240)
        figures.delivered = Quantiles.seconds(ContinuousClock.now - start)
        figures.cpuDelivering = ClientBenchReport.cpuSeconds() - cpuStart
        phase("delivered")
        if try await ClientBenchReport.waitQuiet(client, seconds: 30) { figures.quiet = Quantiles.seconds(ContinuousClock.now - start) }
        figures.prunes = await client.status().prunes - prunesBefore
        return figures
    }

    /// Both stores must fold every op: each path's value is its share of the ops + 1 (the warm-up op).
    static func check(_ deployment: TwoStoreDeployment, ops: Int, paths: Int, prefix: String) async throws -> [String] {
        var wrong: [String] = []
        for store in 0..<2 {
            for p in 0..<paths {
                let expected = Double(ops / paths + (p < ops % paths ? 1 : 0) + 1)
                let got = try await deployment.value(store: store, path: prefix + String(p))
                if got != expected { wrong.append("store \(store) \(prefix)\(p): \(got) ≠ \(expected)") }
            }
        }
        return wrong
    }

    static func run(_ deployment: TwoStoreDeployment, ops: Int, paths: Int) async throws -> (String, String) {
        let n = Double(ops)
        func rate(_ seconds: Double) -> String { Report.formatRate(n / seconds) + "/s" }
        func cores(_ cpu: Double, _ seconds: Double) -> String { String(format: "%.2f", cpu / seconds) }
        func perOp(_ cpu: Double) -> String { String(format: "%.0f µs", cpu / n * 1e6) }
        func checked(_ wrong: [String]) -> String {
            wrong.isEmpty ? "every path folds to the expected sum on both stores" : "**check failed** on \(wrong.count) path(s), e.g. \(wrong.prefix(3).joined(separator: "; "))"
        }

        // a) The client in the bench process, beside the stores.
        let client = try await deployment.client()
        let inProcess = try await push(client, ops: ops, paths: paths, prefix: "/rate-a")
        await client.close()
        let wrongA = try await check(deployment, ops: ops, paths: paths, prefix: "/rate-a")
        say("rate, client in the bench process: \(rate(inProcess.local)) accepted locally, \(rate(inProcess.delivered)) into both stores, quiet after \(inProcess.quiet) s, \(inProcess.prunes) prunes, CPU \(cores(inProcess.cpuDelivering, inProcess.delivered)) cores, outbox at the last push \(inProcess.outboxAtEnd); \(checked(wrongA))")

        // b) The client in a child process: its CPU and the stores' apart.
        let (child, storesCPU) = try await ChildProcess.rate(deployment, ops: ops, paths: paths, prefix: "/rate-b")
        let wrongB = try await check(deployment, ops: ops, paths: paths, prefix: "/rate-b")
        say("rate, client in a child process: \(rate(child.local)) accepted locally, \(rate(child.delivered)) into both stores, quiet after \(child.quiet) s, \(child.prunes) prunes; client CPU \(perOp(child.cpuDelivering))/op (\(cores(child.cpuDelivering, child.delivered)) cores), stores' process \(perOp(storesCPU.delivering))/op (\(cores(storesCPU.delivering, child.delivered)) cores); \(checked(wrongB))")

        // One batch in flight per store: the rounds follow one another.
        let batches = (ops + 255) / 256
        let busy = (child.cpuDelivering + storesCPU.delivering) / child.delivered
        let chain = "Each store gets \(ClientBenchReport.grouped(batches)) batches of 256 one after another: in run (b) a round " +
            "(the client builds and sends a batch, the store commits 256 ops and answers, the client processes the answer) " +
            "took \(String(format: "%.0f ms", child.delivered / Double(batches) * 1000)) on average, with \(String(format: "%.2f", busy)) " +
            "of the 2 cores busy — " + (busy < 1.6
                ? "the CPU is not all used: each store's batches form a serial chain, and the client's share of each round runs on its one actor, between the pushes and both streams."
                : "so the CPU sets the rate.")
        let best = max(n / inProcess.delivered, n / child.delivered)
        let bestLocal = max(n / inProcess.local, n / child.local)
        let goal = "≥ 10,000 pushes/s from one client (into both stores: \(Report.formatRate(best))/s, **\(best >= 10_000 ? "met" : "not met")**; accepted locally: \(Report.formatRate(bestLocal))/s, \(bestLocal >= 10_000 ? "met" : "not met"))"
        func quiet(_ f: Figures) -> String { f.quiet < 0 ? "not within 30 s" : String(format: "%.2f s", f.quiet) }
        let section = """
        ## Pushes per second from one client into two stores

        One client (no other client running) pushes \(ClientBenchReport.grouped(ops)) `counter` ops with sequential `await client.push(…)` calls, \
        round-robin over \(paths) paths (each written once, delivered and settled before the clock starts). *Accepted \
        locally*: the \(ClientBenchReport.grouped(ops)) `push` calls (each returns after validation, the local apply and the outbox append). *Into \
        both stores*: from the first call until the client's outbox for each store is empty, i.e. both stores have \
        accepted (committed) every op — the outbox sends batches of up to 256 ops, one batch in flight per store, while \
        the client also takes its own ops back from both stores' streams. *Quiet*: until `isQuiet()` too (both stores \
        known to hold exactly the local oplogs, prunes included). Run twice: (a) the client in the bench process beside \
        the stores, (b) the client alone in a child process (this binary), so that `getrusage` gives its CPU apart from \
        the stores' (the bench process: table and both stores).

        | run | `push` calls accepted locally | ops into both stores | quiet after | prunes | outbox at the last `push` (max sampled) | CPU, whole machine share |
        | --- | ---: | ---: | ---: | ---: | ---: | --- |
        | (a) client beside the stores | \(rate(inProcess.local)) (\(String(format: "%.2f s", inProcess.local))) | \(rate(inProcess.delivered)) (\(String(format: "%.2f s", inProcess.delivered))) | \(quiet(inProcess)) | \(inProcess.prunes) | \(ClientBenchReport.grouped(inProcess.outboxAtEnd)) (\(ClientBenchReport.grouped(inProcess.maxOutbox))) | \(cores(inProcess.cpuDelivering, inProcess.delivered)) cores busy (client + stores) |
        | (b) client in its own process | \(rate(child.local)) (\(String(format: "%.2f s", child.local))) | \(rate(child.delivered)) (\(String(format: "%.2f s", child.delivered))) | \(quiet(child)) | \(child.prunes) | \(ClientBenchReport.grouped(child.outboxAtEnd)) (\(ClientBenchReport.grouped(child.maxOutbox))) | client \(cores(child.cpuDelivering, child.delivered)) cores + stores \(cores(storesCPU.delivering, child.delivered)) cores |

        \(chain) CPU per op in run (b), until both stores hold every op: the client \(perOp(child.cpuDelivering)) (\(perOp(child.cpuPushing)) \
        of it during the `push` loop, which overlaps delivery), the two stores together \(perOp(storesCPU.delivering)). Goal ≥ 10,000 pushes/s: \
        \(best >= 10_000 ? "met" : "not met") end to end; \(bestLocal >= 10_000 ? "met" : "not met") for the local accept rate. \
        Checked afterwards with `GET value` on both stores: (a) \(checked(wrongA)); (b) \(checked(wrongB)).
        """
        return (section, goal)
    }
}

// MARK: - 3. memory per held path

enum MemoryMeasure {
    /// Runs the client in a child process (this binary) against the stores of
    /// this one, and reads back the child's RSS figures.
    static func run(_ deployment: TwoStoreDeployment, paths: Int) async throws -> String {
        var rows: [String] = []
        var notes: [String] = []
        var perPath: [String] = []
        for storage in ["memory", "sqlite"] {
            let figures = try await ChildProcess.memory(deployment, paths: paths, storage: storage)
            func mib(_ key: String) -> Double { figures[key]?.doubleValue ?? 0 }
            let f = { (x: Double) in String(format: "%.1f", x) }
            let storageName = storage == "memory" ? "in memory (`InMemoryClientStorage`)" : "SQLite (`SQLiteClientStorage`, WAL)"
            let step = mib("second_trimmed") - mib("first_trimmed")
            rows.append("| \(storageName) | \(f(mib("baseline"))) | \(f(mib("first") - mib("baseline"))) | \(f(mib("second") - mib("first"))) | \(f(step)) | \(ClientBenchReport.grouped(Int(mib("held")))) |")
            perPath.append("\(storage == "memory" ? "in memory" : "SQLite") ≈ \(String(format: "%.1f", step * 1024 * 1024 / Double(paths) / 1000)) kB")
            say("memory, storage \(storage): baseline \(f(mib("baseline"))) MiB, +\(f(mib("first") - mib("baseline"))) for the first \(paths) paths, +\(f(mib("second") - mib("first"))) for the next (after malloc_trim +\(f(step))); \(Int(mib("held"))) paths held; \(figures["note"]?.stringValue ?? "")")
            if let note = figures["note"]?.stringValue, !note.isEmpty { notes.append("\(storageName): \(note)") }
        }
        return """
        ## Memory per \(ClientBenchReport.grouped(paths)) paths held

        The client runs alone in a child process (this same release binary, `teabag-bench client --child-task memory …`) \
        against the table and stores of the bench process, so that its RSS holds no store. The child starts a client, \
        waits until both streams are connected, settles 1 s and reads `VmRSS` from `/proc/self/status` (*baseline*: \
        runtime, HTTP client, plugins loaded, no path held). It then pushes one `counter` op onto each of \(ClientBenchReport.grouped(paths)) new \
        paths, waits until both stores accepted every op and the client is quiet, settles 1 s and reads RSS again; then \
        the same for \(ClientBenchReport.grouped(paths)) more paths. A held path is then a local oplog of base + 1 op, its folded value, and a \
        mirror of each store's oplog (base + the op). The first step includes one-off growth (connections, buffers, \
        first allocations of the tables), so the second step is the per-path figure; its last column is measured after \
        `malloc_trim(0)` on both sides, which hands back memory glibc keeps but does not use.

        | client storage | baseline RSS (MiB) | first \(ClientBenchReport.grouped(paths)) paths (MiB) | next \(ClientBenchReport.grouped(paths)) paths (MiB) | the same, after `malloc_trim` (MiB) | paths held at the end |
        | --- | ---: | ---: | ---: | ---: | ---: |
        \(rows.joined(separator: "\n"))

        Per path held (the last column / \(ClientBenchReport.grouped(paths))): \(perPath.joined(separator: ", ")).\(notes.isEmpty ? "" : " Notes: " + notes.joined(separator: "; ") + ".")
        """
    }
}

/// The client alone in a child process (this binary), against the stores of this one.
enum ChildProcess {
    /// The client's storage, and the directory to remove afterwards (SQLite only).
    static func storage(_ kind: String) throws -> (any ClientStorage, String?) {
        guard kind == "sqlite" else { return (InMemoryClientStorage(), nil) }
        let directory = NSTemporaryDirectory() + "teabag-bench-client-child-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return (try SQLiteClientStorage(path: directory + "/client.sqlite"), directory)
    }

    struct StoresCPU {
        var pushing = 0.0, delivering = 0.0
    }

    static func rate(_ deployment: TwoStoreDeployment, ops: Int, paths: Int, prefix: String) async throws -> (RateMeasure.Figures, StoresCPU) {
        // This process's CPU at each phase line of the child.
        let marks = Mutex<[String: Double]>([:])
        let result = try await run(deployment, ["--child-task", "rate", "--ops", String(ops), "--paths", String(paths), "--child-prefix", prefix]) { line in
            if line.hasPrefix("PHASE ") { marks.withLock { $0[String(line.dropFirst(6))] = ClientBenchReport.cpuSeconds() } }
        }
        let m = marks.withLock { $0 }
        guard let start = m["start"], let pushed = m["pushed"], let delivered = m["delivered"] else { throw BenchError("the rate child did not report its phases") }
        return (RateMeasure.Figures(result), StoresCPU(pushing: pushed - start, delivering: delivered - start))
    }

    static func memory(_ deployment: TwoStoreDeployment, paths: Int, storage: String) async throws -> JSON {
        try await run(deployment, ["--child-task", "memory", "--child-storage", storage, "--memory-paths", String(paths)]) { _ in }
    }

    /// Runs `teabag-bench client <arguments> --child-table … --child-session …` and answers its `RESULT` line.
    private static func run(_ deployment: TwoStoreDeployment, _ arguments: [String], line: @escaping @Sendable (String) -> Void) async throws -> JSON {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        process.arguments = ["client"] + arguments + ["--child-table", deployment.tableURL, "--child-session", deployment.session]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.standardError
        process.standardInput = FileHandle.nullDevice
        // A thread that blocks on the pipe, rather than `readabilityHandler`:
        // clearing that handler while its dispatch source is live crashed
        // libdispatch (`_dispatch_event_loop_drain`) in this process.
        let collected = Mutex((text: "", finished: false))
        let reading = out.fileHandleForReading
        let reader = Thread {
            var pending = ""
            while true {
                let data = reading.availableData
                if data.isEmpty { break }
                let chunk = String(decoding: data, as: UTF8.self)
                collected.withLock { $0.text += chunk }
                pending += chunk
                var lines = pending.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                pending = lines.removeLast()
                for text in lines { line(text) }
            }
            collected.withLock { $0.finished = true }
        }
        try process.run()
        reader.start()
        let deadline = ContinuousClock.now + .seconds(300)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw BenchError("the child (pid \(process.processIdentifier)) did not finish within 300 s")
        }
        let drained = ContinuousClock.now + .seconds(5)
        while !collected.withLock({ $0.finished }) && ContinuousClock.now < drained { try await Task.sleep(for: .milliseconds(20)) }
        let text = collected.withLock { $0.text }
        guard let result = text.split(separator: "\n").last(where: { $0.hasPrefix("RESULT ") }) else {
            throw BenchError("the child exited \(process.terminationStatus) without a result: \(text)")
        }
        return try JSON.parse(String(result.dropFirst("RESULT ".count)))
    }
}

/// The child process of the memory measurement: one client, nothing else.
enum MemoryChild {
    static func run(_ client: TeaBagClient, paths: Int, storage kind: String) async throws {
        try await ClientBenchReport.waitConnected([client])
        try await Task.sleep(for: .seconds(1))
        var figures: [String: JSON] = ["baseline": .number(ClientBenchReport.rssMiB())]
        var notes: [String] = []
        let run = UUID().uuidString.prefix(6)
        for (step, name) in ["first", "second"].enumerated() {
            for p in 0..<paths { try await client.push("main", "counter", "/mem-\(run)-\(kind)-\(step)-\(p)", 1) }
            try await ClientBenchReport.waitDelivered(client, seconds: 120)
            if try await !ClientBenchReport.waitQuiet(client, seconds: 60) { notes.append("not quiet 60 s after the \(name) step") }
            try await Task.sleep(for: .seconds(1))
            figures[name] = .number(ClientBenchReport.rssMiB())
            ClientBenchReport.mallocTrim()
            figures[name + "_trimmed"] = .number(ClientBenchReport.rssMiB())
        }
        figures["held"] = .number(Double(await client.status().channels.first?.paths ?? 0))
        figures["note"] = .string(notes.joined(separator: ", "))
        await client.close()
        say("RESULT " + JSON.object(figures).canonicalString)
    }
}

// MARK: - Helpers

enum ClientBenchReport {
    static let quiet = Logger(label: "bench.client", factory: { _ in SwiftLogNoOpLogHandler() })
    static let plugins = PluginHost(directories: ["Plugins"], logger: quiet)

    static func startClient(tableURL: String, session: String, storage: any ClientStorage) async throws -> TeaBagClient {
        var configuration = ClientConfiguration(tableURL: tableURL, user: 1, credential: .session(session), storage: storage)
        configuration.channels = ["main"]
        let client = TeaBagClient(configuration, reducers: ReducerRegistry(plugins: plugins), logger: quiet)
        try await client.start()
        return client
    }

    /// Until every store's stream of every client is connected.
    static func waitConnected(_ clients: [TeaBagClient], seconds: Double = 10) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        for client in clients {
            while await !client.status().channels.allSatisfy({ $0.stores.count == 2 && $0.stores.allSatisfy(\.connected) }) {
                guard ContinuousClock.now < deadline else { throw BenchError("the client's streams did not connect: \(await client.status().json)") }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        try await Task.sleep(for: .milliseconds(100))
    }

    static func outboxDepth(_ client: TeaBagClient) async -> Int {
        await client.status().channels.reduce(0) { $0 + $1.stores.reduce(0) { $0 + $1.outbox } }
    }

    /// Until every own op reached both stores (both outboxes empty); polls every 2 ms.
    static func waitDelivered(_ client: TeaBagClient, seconds: Double) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while await outboxDepth(client) > 0 {
            guard ContinuousClock.now < deadline else { throw BenchError("outbox not empty after \(seconds) s: \(await client.status().json)") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Until `isQuiet()`; false if it is not within `seconds`.
    static func waitQuiet(_ client: TeaBagClient, seconds: Double) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while await !client.isQuiet() {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(2))
        }
        return true
    }

    /// CPU time of this process so far (user + system), in seconds.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// The machine's busy CPU (from /proc/stat) and this process's own (children included), at one instant.
    struct CPUSample {
        let machine: Double
        let own: Double
        let at = ContinuousClock.now

        init() {
            let line = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8))?.split(separator: "\n").first ?? ""
            let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            // user nice system idle iowait irq softirq steal, in USER_HZ (100 per second).
            machine = fields.count >= 5 ? (fields.reduce(0, +) - fields[3] - fields[4]) / 100 : 0
            var mine = rusage(), children = rusage()
            getrusage(RUSAGE_SELF.rawValue, &mine)
            getrusage(RUSAGE_CHILDREN.rawValue, &children)
            func seconds(_ u: rusage) -> Double {
                Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
            }
            own = seconds(mine) + seconds(children)
        }
    }

    /// Cores other processes kept busy on average since `start`.
    static func otherCores(since start: CPUSample) -> Double {
        let now = CPUSample()
        return max(0, (now.machine - start.machine) - (now.own - start.own)) / Quantiles.seconds(now.at - start.at)
    }

    static func rssMiB() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb / 1024
    }

    /// glibc's `malloc_trim(0)` (not in the Glibc module): free memory back to the system.
    static func mallocTrim() {
        #if canImport(Glibc)
        typealias Trim = @convention(c) (Int) -> Int32
        if let symbol = dlsym(nil, "malloc_trim") { _ = unsafeBitCast(symbol, to: Trim.self)(0) }
        #endif
    }

    static func loadAverage() -> String {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "unknown" }
        return text.split(separator: " ").prefix(1).joined()
    }

    static func grouped(_ n: Int) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = ","
        return formatter.string(from: NSNumber(value: n)) ?? "\(n)"
    }

    static func format(_ d: Duration) -> String { String(format: "%.2f s", Quantiles.seconds(d)) }
}

