/// Client runtime figures (issue 5): push → update latency between two
/// clients, the push rate of one client into two stores (accepted locally,
/// and end to end), and the memory a client needs per path it holds.
/// A real table and two real stores (durability `normal`) run in the bench
/// process on 127.0.0.1; the memory figure runs its client in a child
/// process (this binary again), so that the stores' memory is not in it.
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
    @Option(help: "Only these measurements (comma-separated: latency,rate,memory).") var only: String?

    // The memory measurement's child process (this binary, `client --child-table … --child-session …`).
    @Option(help: .hidden) var childTable: String?
    @Option(help: .hidden) var childSession: String?
    @Option(help: .hidden) var childStorage = "memory"

    func run() async throws {
        if let childTable, let childSession {
            try await MemoryChild.run(tableURL: childTable, session: childSession, paths: memoryPaths, storage: childStorage)
            return
        }
        let wanted = Set((only ?? "latency,rate,memory").split(separator: ",").map { String($0) })
        let started = Date()
        let loadBefore = ClientBenchReport.loadAverage()
        let deployment = try await TwoStoreDeployment.start()
        say("table \(deployment.tableURL), stores \(deployment.storeURLs.joined(separator: ", ")) (durability normal)")
        var sections: [String] = []

        if wanted.contains("latency") {
            let figures = try await LatencyMeasure.run(deployment, pushes: pushes, warmup: warmup)
            sections.append(figures)
        }
        if wanted.contains("rate") {
            sections.append(try await RateMeasure.run(deployment, ops: ops, paths: paths))
        }
        if wanted.contains("memory") {
            sections.append(try await MemoryMeasure.run(deployment, paths: memoryPaths))
        }
        await deployment.stop()
        let loadAfter = ClientBenchReport.loadAverage()

        let markdown = """
        # Client benchmark

        `swift run -c release teabag-bench client` on \(Report.machine()), \(ISO8601DateFormatter().string(from: started)), \
        \(Int(Date().timeIntervalSince(started))) s. A real table and two real stores (`durability: normal`, the C `counter` \
        plugin validating and folding) in the bench process on 127.0.0.1, enrolled for user 1 under channel `main` through \
        the real routes; the clients are `TeaBagClient`s with in-memory storage and the shipped plugins, using a session \
        made at the table. Load average (1 min) before the run: \(loadBefore), after: \(loadAfter).

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
    let tasks: [Task<Void, any Error>]
    let directory: String

    static func start() async throws -> TwoStoreDeployment {
        let directory = NSTemporaryDirectory() + "teabag-bench-client-\(UUID().uuidString)"
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        var tableConfiguration = TableConfiguration()
        tableConfiguration.port = 0
        tableConfiguration.dataDirectory = directory + "/table"
        tableConfiguration.key = "bench-table-key-0123456789"
        tableConfiguration.masterHashRounds = 1_000
        let table = try TableServer.build(configuration: tableConfiguration, logger: logger)
        var stores: [StoreServer] = []
        for index in 0..<2 {
            var storeConfiguration = StoreConfiguration()
            storeConfiguration.port = 0
            storeConfiguration.dataDirectory = directory + "/store\(index)"
            storeConfiguration.key = "bench-store-key-0123456789"
            storeConfiguration.durability = .normal
            storeConfiguration.pluginDirectories = ["Plugins"]
            storeConfiguration.logLevel = .error
            stores.append(try StoreServer.build(configuration: storeConfiguration, logger: logger))
        }
        var tasks: [Task<Void, any Error>] = [Task { try await table.application.runService() }]
        for store in stores { tasks.append(Task { try await store.application.runService() }) }
        while table.address.url == nil || stores.contains(where: { $0.address.url == nil }) { try await Task.sleep(for: .milliseconds(10)) }
        let tableURL = table.address.url! + "/"
        let storeURLs = stores.map { $0.address.url! + "/" }

        try await BenchHTTP.request("PUT", tableURL + "admin/user/1/master/secret", basic: ("admin", tableConfiguration.key!))
        for storeURL in storeURLs {
            try await BenchHTTP.request("PUT", storeURL + "admin/user/1", basic: ("admin", "bench-store-key-0123456789"))
            let code = try await BenchHTTP.request("GET", storeURL + "admin/user/1/code", basic: ("admin", "bench-store-key-0123456789"))
            let answer = try await BenchHTTP.request("POST", tableURL + "user/1/table/main/store?master=secret",
                                                     body: ["store_url": .string(storeURL + "user/1/"), "code": code["code"] ?? .null])
            if answer["error"] != nil { throw BenchError("enrollment refused: \(answer)") }
        }
        let session = try await BenchHTTP.request("GET", tableURL + "user/1/session/new?master=secret&timeout=3600000")
        guard let token = session["session_token"]?.stringValue else { throw BenchError("no session: \(session)") }
        let mount = try await BenchHTTP.request("GET", tableURL + "user/1/table?session_token=\(token)")
        let storeTokens = try storeURLs.map { storeURL in
            let id = Digest.sha256Hex(Array((storeURL + "user/1/").utf8))
            guard let storeToken = mount["main"]?[id]?["store_token"]?.stringValue else { throw BenchError("no store token for \(storeURL): \(mount)") }
            return storeToken
        }
        return TwoStoreDeployment(table: table, stores: stores, tableURL: tableURL, storeURLs: storeURLs, storeTokens: storeTokens,
                                  session: token, tasks: tasks, directory: directory)
    }

    func stop() async {
        for task in tasks { task.cancel() }
        for task in tasks { _ = await task.result }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The value a store folds for a counter path (`GET value`).
    func value(store index: Int, path: String) async throws -> Double {
        let encoded = path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? path
        let answer = try await BenchHTTP.request("GET", storeURLs[index] + "user/1/value?type=counter&path=\(encoded)&store_token=\(storeTokens[index])")
        return answer["value"]?.doubleValue ?? 0
    }

    /// A started client of user 1 with the session, the shipped plugins and in-memory storage.
    func client(storage: any ClientStorage = InMemoryClientStorage()) async throws -> TeaBagClient {
        try await ClientBenchReport.startClient(tableURL: tableURL, session: session, storage: storage)
    }
}

// MARK: - 1. push → update latency

enum LatencyMeasure {
    /// One push at a time on A; each timed from the call to `push` until B's
    /// `updates` stream yields that value (counter values are distinct).
    static func run(_ deployment: TwoStoreDeployment, pushes: Int, warmup: Int) async throws -> String {
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
        let prunesA = await a.status().prunes
        await a.close()
        await b.close()
        _ = await consumer.result

        let t = Quantiles(total), l = Quantiles(local)
        say("push → B's update: p50 \(t.p50) p90 \(t.p90) p99 \(t.p99) max \(t.max) (local apply p50 \(l.p50) p99 \(l.p99)); A pruned \(prunesA) times")
        let p50ok = t.value(0.5) <= 5, p99ok = t.value(0.99) <= 20
        return """
        ## Push → update latency

        Client A pushes `counter` +1 onto `\(path)` one op at a time; client B (same process, its own streams to both \
        stores) has `updates("main", type: "counter", path: "\(path)")` open. Each push is timed from the call to \
        `push` on A until B's stream yields that push's value; the next push starts only then. \(warmup) untimed \
        pushes first, then \(pushes) timed. Pruning is on (`prune.min_ops` 32): A pruned the path \(prunesA) times meanwhile.

        | measurement | p50 | p90 | p99 | max | goal | met |
        | --- | ---: | ---: | ---: | ---: | --- | --- |
        | push on A → update on B | \(t.p50) | \(t.p90) | \(t.p99) | \(t.max) | p50 ≤ 5 ms, p99 ≤ 20 ms | \(p50ok && p99ok ? "yes" : "no (p50 \(p50ok ? "met" : "not met"), p99 \(p99ok ? "met" : "not met"))") |
        | ↳ of which `push` on A (local apply, outbox) | \(l.p50) | \(l.p90) | \(l.p99) | \(l.max) | | |
        """
    }
}

// MARK: - 2. push rate

enum RateMeasure {
    /// One client pushes `ops` ops as fast as sequential `push` calls go,
    /// spread round-robin over `paths` paths; then waits until both stores
    /// accepted every one (both outboxes empty) and the client is quiet.
    static func run(_ deployment: TwoStoreDeployment, ops: Int, paths: Int) async throws -> String {
        let client = try await deployment.client()
        try await ClientBenchReport.waitConnected([client])
        let watchdog = Watchdog("rate", seconds: 300)
        // Warm-up: every path written once and carried to both stores.
        for p in 0..<paths { try await client.push("main", "counter", "/rate\(p)", 1) }
        try await ClientBenchReport.waitDelivered(client, seconds: 30)
        _ = try await ClientBenchReport.waitQuiet(client, seconds: 10)
        let prunesBefore = await client.status().prunes

        let start = ContinuousClock.now
        var maxOutbox = 0
        for i in 0..<ops {
            try await client.push("main", "counter", "/rate\(i % paths)", 1)
            if i % 1_000 == 999 { maxOutbox = max(maxOutbox, await ClientBenchReport.outboxDepth(client)) }
        }
        let pushed = ContinuousClock.now
        let outboxAtEnd = await ClientBenchReport.outboxDepth(client)
        try await ClientBenchReport.waitDelivered(client, seconds: 240)
        let delivered = ContinuousClock.now
        let quiet = try await ClientBenchReport.waitQuiet(client, seconds: 30)
        let quietAt = ContinuousClock.now
        let prunes = await client.status().prunes - prunesBefore
        await client.close()
        watchdog.done()

        // Both stores must fold every op: each path's value is ops/paths + 1 (the warm-up op).
        var wrong: [String] = []
        for store in 0..<2 {
            for p in 0..<paths {
                let expected = Double(ops / paths + (p < ops % paths ? 1 : 0) + 1)
                let got = try await deployment.value(store: store, path: "/rate\(p)")
                if got != expected { wrong.append("store \(store) /rate\(p): \(got) ≠ \(expected)") }
            }
        }
        let check = wrong.isEmpty ? "both stores' values were checked afterwards: every path folds to the expected sum"
            : "**check failed** on \(wrong.count) path(s), e.g. \(wrong.prefix(3).joined(separator: "; "))"

        let localRate = Double(ops) / ClientBenchReport.seconds(pushed - start)
        let endToEndRate = Double(ops) / ClientBenchReport.seconds(delivered - start)
        let quietRate = Double(ops) / ClientBenchReport.seconds(quietAt - start)
        say("rate: \(Report.formatRate(localRate)) pushes/s accepted locally, \(Report.formatRate(endToEndRate)) ops/s into both stores (outbox left at the end of the pushes: \(outboxAtEnd)), \(Report.formatRate(quietRate)) until quiet (\(quiet ? "quiet" : "not quiet")), \(prunes) prunes; \(check)")
        let goal = endToEndRate >= 10_000
        return """
        ## Pushes per second from one client into two stores

        One client (no other client running) pushes \(ops) `counter` ops with sequential `await client.push(…)` calls, \
        round-robin over \(paths) paths (each written once and delivered before the clock starts). *Accepted locally*: \
        the \(ops) `push` calls (each returns after the local apply and the outbox append). *Into both stores*: from \
        the first call until the client's outbox for each store is empty, i.e. both stores have accepted (committed) \
        every op — the outbox sends batches of up to 256 ops, one in flight per store. *Until quiet*: until \
        `isQuiet()` too (every store known to hold exactly the local oplogs, prunes included). \(check).

        | measurement | ops/s | elapsed | goal | met |
        | --- | ---: | ---: | --- | --- |
        | `push` calls accepted locally | \(Report.formatRate(localRate)) | \(ClientBenchReport.format(pushed - start)) | | |
        | ops into both stores (both outboxes empty) | \(Report.formatRate(endToEndRate)) | \(ClientBenchReport.format(delivered - start)) | ≥ 10,000 pushes/s | \(goal ? "yes" : "no") |
        | ↳ until `isQuiet()` | \(Report.formatRate(quietRate)) | \(ClientBenchReport.format(quietAt - start)) | | \(quiet ? "" : "(not quiet after 30 s)") |

        Outbox depth (ops waiting, summed over the two stores): \(outboxAtEnd) when the last `push` returned, at most \
        \(maxOutbox) sampled every 1,000 pushes. The client pruned \(prunes) times during the run.
        """
    }
}

// MARK: - 3. memory per held path

enum MemoryMeasure {
    /// Runs the client in a child process (this binary) against the stores of
    /// this one, and reads back the child's RSS figures.
    static func run(_ deployment: TwoStoreDeployment, paths: Int) async throws -> String {
        var rows: [String] = []
        var notes: [String] = []
        for storage in ["memory", "sqlite"] {
            let child = try await runChild(deployment, paths: paths, storage: storage)
            guard let figures = child else { throw BenchError("the memory child gave no figures") }
            let base = figures["baseline"]?.doubleValue ?? 0
            let first = figures["first"]?.doubleValue ?? 0, second = figures["second"]?.doubleValue ?? 0
            let firstTrim = figures["first_trimmed"]?.doubleValue ?? 0, secondTrim = figures["second_trimmed"]?.doubleValue ?? 0
            let held = figures["held"]?.doubleValue ?? 0
            let label = storage == "memory" ? "in-memory storage" : "SQLite storage (`SQLiteClientStorage`, oplog cache on disk)"
            let line = "| \(label) | \(String(format: "%.1f", base)) | \(String(format: "%.1f", first - base)) | \(String(format: "%.1f", second - first)) | \(String(format: "%.1f", secondTrim - firstTrim)) | \(Int(held)) |"
            say("memory, \(storage): baseline \(String(format: "%.1f", base)) MiB, +\(String(format: "%.1f", first - base)) MiB for the first \(paths) paths, +\(String(format: "%.1f", second - first)) for the next (after malloc_trim: +\(String(format: "%.1f", secondTrim - firstTrim))); \(Int(held)) paths held")
            rows.append(line)
            if let note = figures["note"]?.stringValue, !note.isEmpty { notes.append("\(storage): \(note)") }
        }
        return """
        ## Memory per \(paths) paths held

        The client runs alone in a child process (`teabag-bench client --child-table …`, this same release binary), \
        against the table and stores of the bench process, so that its RSS holds no store. The child starts a client, \
        waits until both streams are connected, settles 1 s and reads `VmRSS` from `/proc/self/status` (*baseline*: \
        runtime, HTTP client, plugins loaded, no path held). It then pushes one `counter` op onto each of \(paths) new \
        paths, waits until both stores accepted them and the client is quiet (both stores fetched and mirrored), settles \
        1 s and reads RSS again; then the same for \(paths) more paths. Each held path is a local oplog of base + 1 op, \
        its folded value, and a mirror of each of the two stores' oplogs. The first step includes one-off growth (HTTP \
        connections, buffers, hash tables' first allocations), so the second step is the per-path figure; the last \
        column is the second step measured after `malloc_trim(0)` on both sides (memory glibc keeps but does not use \
        is returned first).

        | client storage | baseline RSS (MiB) | first \(paths) paths (MiB) | next \(paths) paths (MiB) | next \(paths), after `malloc_trim` (MiB) | paths held at the end |
        | --- | ---: | ---: | ---: | ---: | ---: |
        \(rows.joined(separator: "\n"))
        \(notes.isEmpty ? "" : "\nNotes: " + notes.joined(separator: "; "))
        """
    }

    private static func runChild(_ deployment: TwoStoreDeployment, paths: Int, storage: String) async throws -> JSON? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        process.arguments = ["client", "--child-table", deployment.tableURL, "--child-session", deployment.session,
                             "--child-storage", storage, "--memory-paths", String(paths)]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.standardError
        process.standardInput = FileHandle.nullDevice
        let collected = Mutex("")
        out.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            collected.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
        let deadline = ContinuousClock.now + .seconds(180)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw BenchError("the memory child (pid \(process.processIdentifier)) did not finish within 180 s")
        }
        try await Task.sleep(for: .milliseconds(100))
        out.fileHandleForReading.readabilityHandler = nil
        let text = collected.withLock { $0 } + String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("MEMORY ") }) else {
            throw BenchError("the memory child exited \(process.terminationStatus) without figures: \(text)")
        }
        return try JSON.parse(String(line.dropFirst("MEMORY ".count)))
    }
}

/// The child process of the memory measurement: one client, nothing else.
enum MemoryChild {
    static func run(tableURL: String, session: String, paths: Int, storage kind: String) async throws {
        let directory = NSTemporaryDirectory() + "teabag-bench-client-mem-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let storage: any ClientStorage = kind == "sqlite" ? try SQLiteClientStorage(path: directory + "/client.sqlite") : InMemoryClientStorage()
        let client = try await ClientBenchReport.startClient(tableURL: tableURL, session: session, storage: storage)
        try await ClientBenchReport.waitConnected([client])
        try await Task.sleep(for: .seconds(1))
        let baseline = ClientBenchReport.rssMiB()
        var figures: [String: JSON] = ["baseline": .number(baseline)]
        var notes: [String] = []
        for (step, name) in ["first", "second"].enumerated() {
            let prefix = "/mem-\(kind)-\(step)-"
            for p in 0..<paths { try await client.push("main", "counter", prefix + String(p), 1) }
            try await ClientBenchReport.waitDelivered(client, seconds: 120)
            if try await !ClientBenchReport.waitQuiet(client, seconds: 60) { notes.append("not quiet 60 s after step \(name)") }
            try await Task.sleep(for: .seconds(1))
            figures[name] = .number(ClientBenchReport.rssMiB())
            ClientBenchReport.mallocTrim()
            figures[name + "_trimmed"] = .number(ClientBenchReport.rssMiB())
        }
        figures["held"] = .number(Double(await client.status().channels.first?.paths ?? 0))
        figures["note"] = .string(notes.joined(separator: ", "))
        await client.close()
        say("MEMORY " + JSON.object(figures).canonicalString)
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

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    static func format(_ d: Duration) -> String { String(format: "%.2f s", seconds(d)) }
}

/// Quantiles of durations, in ms.
struct Quantiles {
    let sorted: [Double]
    init(_ durations: [Duration]) { sorted = durations.map { ClientBenchReport.seconds($0) * 1000 }.sorted() }

    func value(_ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
    }

    private func text(_ ms: Double) -> String { String(format: "%.2f ms", ms) }
    var p50: String { text(value(0.5)) }
    var p90: String { text(value(0.9)) }
    var p99: String { text(value(0.99)) }
    var max: String { text(sorted.last ?? .nan) }
}

/// Ends the process if a measurement stalls (a lost update would otherwise hang it).
final class Watchdog: Sendable {
    private let task: Task<Void, Never>

    init(_ what: String, seconds: Double) {
        task = Task {
            try? await Task.sleep(for: .seconds(seconds))
            guard !Task.isCancelled else { return }
            say("the \(what) measurement stalled for \(Int(seconds)) s; giving up")
            exit(3)
        }
    }

    func done() { task.cancel() }
}
