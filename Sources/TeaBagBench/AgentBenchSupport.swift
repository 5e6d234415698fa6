/// What the agent bench runs on: the servers' enrollment, the agents' local API, rate runs, child processes.
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import TeaBagCore
#if canImport(Glibc)
import Glibc
#endif

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

    /// `n` requests one after another on one connection to `socket`.
    static func sequential(_ n: Int, socket: String, process: AgentBenchProcess, other: AgentBenchProcess, servers: () -> Double,
                           _ body: @escaping @Sendable (UnixSocketConnection, Int) throws -> Double) async throws -> RateRun {
        try await measure(process: process, other: other, servers: servers) {
            try await ThreadedLoad.run(1, socket: socket) { _, connection in
                var mine: [Duration] = []
                mine.reserveCapacity(n)
                for i in 0..<n {
                    let t = ContinuousClock.now
                    _ = try body(connection, i)
                    mine.append(ContinuousClock.now - t)
                }
                return mine
            }[0]
        }
    }

    /// `workers` connections to `socket`, each sending its next request
    /// when the previous answered, for `seconds`.
    static func concurrent(_ workers: Int, seconds: Double, socket: String, process: AgentBenchProcess, other: AgentBenchProcess,
                           servers: () -> Double, _ body: @escaping @Sendable (UnixSocketConnection, Int) throws -> Double) async throws -> RateRun {
        try await measure(process: process, other: other, servers: servers) {
            let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            return try await ThreadedLoad.run(workers, socket: socket) { w, connection in
                var mine: [Duration] = []
                var i = w
                while ContinuousClock.now < deadline {
                    let t = ContinuousClock.now
                    _ = try body(connection, i)
                    mine.append(ContinuousClock.now - t)
                    i += workers
                }
                return mine
            }.flatMap { $0 }
        }
    }

    /// The latencies `load` returns, with the time it took and the cores each process was busy meanwhile.
    private static func measure(process: AgentBenchProcess, other: AgentBenchProcess, servers: () -> Double,
                                _ load: () async throws -> [Duration]) async throws -> RateRun {
        var run = RateRun()
        let cpuStart = process.cpuSeconds(), cpuBStart = other.cpuSeconds(), benchStart = AgentBenchProcess.selfCPUSeconds()
        let serversStart = servers()
        let start = ContinuousClock.now
        run.latencies = try await load()
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
