/// The store's memory with many users (issue 14 §4): a `teabag table` and a
/// `teabag store` as processes; N distinct users enrolled through the real
/// admin and table routes, each pushing one op and opening an SSE stream
/// once (then closing it); the store's RSS at the start, at its peak, and
/// after the users have gone idle. Not a test: it asserts nothing.
import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import TeaBagCore

struct MemoryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory", abstract: "The store's RSS with many distinct users: at start, at peak, after they go idle.")

    @Option(help: "Distinct users, each enrolled, pushing one op and opening a stream once.") var users = 100_000
    @Option(help: "Concurrent clients.") var clients = 8
    @Option(help: "Seconds to wait once every user is done before the idle figure (the store sweeps every 10 s).") var idleSeconds = 70
    @Option(help: "The teabag binary (a release build for figures that mean something).") var teabag = ".build/release/teabag"
    @Option(help: "Reducer plugins directory.") var plugins = "Plugins"
    @Option(help: "Where to write the report.") var out = "docs/benchmarks/memory.md"

    static let tableKey = "memory-table-key-0123456789"
    static let storeKey = "memory-store-key-0123456789"

    func run() async throws {
        let directory = NSTemporaryDirectory() + "teabag-memory-\(UUID().uuidString)"
        let config = directory + "/conf"
        try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
        // A cheap master hash (the default is deliberately slow: it would
        // measure the table, not the store); warnings only.
        try """
        table:
          master_hash_rounds: 1000
          log_level: warning
        store:
          log_level: warning
        """.write(toFile: config + "/10-memory.yaml", atomically: true, encoding: .utf8)
        let log = directory + "/servers.log"
        let table = try AgentBenchProcess.start(teabag, ["table", "--config", config, "--data", directory + "/table",
                                                         "--key", Self.tableKey, "--port", "0"], log: log)
        let store = try AgentBenchProcess.start(teabag, ["store", "--config", config, "--data", directory + "/store",
                                                         "--key", Self.storeKey, "--plugins", plugins, "--port", "0"], log: log)
        defer {
            store.stop()
            table.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
        let tableURL = try table.wait(for: "teabag table listening on", seconds: 60) + "/"
        let storeURL = try store.wait(for: "teabag store listening on", seconds: 60) + "/"
        try await Task.sleep(for: .seconds(2))
        let start = try ProcessMemory(pid: store.pid)
        say("store pid \(store.pid) at start: \(start)")

        let watchdog = Watchdog("memory", seconds: 6 * 3600)
        let began = ContinuousClock.now
        let progress = Progress()
        let users = self.users
        let enrolment = UserEnrolment(tableURL: tableURL, storeURL: storeURL)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    while true {
                        let user = progress.next.add(1, ordering: .relaxed).oldValue
                        guard user <= users else { return }
                        do {
                            try await enrolment.run(user: user)
                        } catch {
                            progress.failures.withLock { if $0.count < 20 { $0.append("user \(user): \(error)") } }
                        }
                        let finished = progress.done.add(1, ordering: .relaxed).newValue
                        if finished % 1_000 == 0 {
                            let memory = try? ProcessMemory(pid: store.pid)
                            say("\(finished) users after \(Int(Quantiles.seconds(ContinuousClock.now - began))) s: store \(memory.map { "\($0)" } ?? "?")")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = Quantiles.seconds(ContinuousClock.now - began)
        let busy = try ProcessMemory(pid: store.pid)
        say("all \(users) users done in \(Int(elapsed)) s: \(busy); idle for \(idleSeconds) s")
        try await Task.sleep(for: .seconds(idleSeconds))
        let idle = try ProcessMemory(pid: store.pid)
        let metrics = (try? await Self.text(storeURL + "metrics")) ?? ""
        let listeners = metrics.split(separator: "\n").first { $0.hasPrefix("teabag_store_stream_listeners") }.map(String.init) ?? "?"
        watchdog.done()
        let failed = progress.failures.withLock { $0 }
        say("idle: \(idle); \(listeners); \(failed.count) user(s) failed")
        for failure in failed { say("  \(failure)") }

        func mib(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1_048_576) }
        func perUser(_ bytes: Int) -> String { String(format: "%.2f", Double(bytes) / 1024 / Double(users)) }
        let markdown = """
        # Store memory with many users

        `teabag-bench memory --users \(users) --clients \(clients)` on \(Report.machine()); servers: `\(teabag)`; \
        \(ISO8601DateFormatter().string(from: Date())). A `teabag table` and a `teabag store` as processes on 127.0.0.1 \
        (durability normal, shipped plugins). \(clients) concurrent clients take users 1…\(users) in turn; for each: \
        `PUT /admin/user/N/master/…` on the table, `PUT /admin/user/N` and `GET /admin/user/N/code` on the store, the \
        table's enrollment route (which confirms the code with the store), a session and the mount table (its store \
        token), one `counter` op pushed to the store (the store checks the token with the table), an SSE stream opened \
        until its first bytes arrive, then closed. \(Int(elapsed)) s for all users (\(String(format: "%.0f", Double(users) / elapsed)) users/s); \
        \(failed.count) failed. The store's memory from `/proc/PID/status`: `VmRSS` (all resident pages, the database \
        file pages SQLite maps included), `RssAnon` (the heap), peak `VmHWM`; *idle* is \(idleSeconds) s after the last user.

        | | VmRSS (MiB) | RssAnon (MiB) |
        | --- | ---: | ---: |
        | start | \(mib(start.rss)) | \(mib(start.anon)) |
        | all users done | \(mib(busy.rss)) | \(mib(busy.anon)) |
        | peak (VmHWM) | \(mib(idle.peak)) | |
        | idle | \(mib(idle.rss)) | \(mib(idle.anon)) |
        | idle − start, per user (KiB) | \(perUser(idle.rss - start.rss)) | \(perUser(idle.anon - start.anon)) |
        | peak − start, per user (KiB) | \(perUser(idle.peak - start.rss)) | |

        Stream listeners after idle: `\(listeners)`.
        """
        try Report.write(markdown + "\n", to: out)
        say(markdown)
        say("written to \(out)")
    }

    static func text(_ url: String) async throws -> String {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        return String(buffer: try await response.body.collect(upTo: 16 << 20))
    }
}

/// Users taken and done by the concurrent clients, and the first failures.
final class Progress: Sendable {
    let next = Atomic<Int>(1)
    let done = Atomic<Int>(0)
    let failures = Mutex<[String]>([])
}

/// A process's memory from `/proc/PID/status`, in bytes.
struct ProcessMemory: CustomStringConvertible {
    let rss: Int
    let anon: Int
    let peak: Int

    init(pid: Int32) throws {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        func field(_ name: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
                  let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
            return kb * 1024
        }
        rss = field("VmRSS")
        anon = field("RssAnon")
        peak = field("VmHWM")
    }

    var description: String { "VmRSS \(rss >> 20) MiB, RssAnon \(anon >> 20) MiB, VmHWM \(peak >> 20) MiB" }
}

/// One user's life in the memory measurement: enrolled on the store through
/// the table (docs/protocol.md#enrollment), one op pushed, a stream opened once.
struct UserEnrolment: Sendable {
    let tableURL: String
    let storeURL: String

    func run(user: Int) async throws {
        let admin = (name: "admin", password: MemoryBench.storeKey)
        try await expectOK("PUT", tableURL + "admin/user/\(user)/master/secret", basic: ("admin", MemoryBench.tableKey))
        try await expectOK("PUT", storeURL + "admin/user/\(user)", basic: admin)
        let code = try await BenchHTTP.request("GET", storeURL + "admin/user/\(user)/code", basic: admin)
        let userURL = storeURL + "user/\(user)/"
        try await expectOK("POST", tableURL + "user/\(user)/table/main/store?master=secret",
                           body: ["store_url": .string(userURL), "code": code["code"] ?? .null])
        let session = try await BenchHTTP.request("GET", tableURL + "user/\(user)/session/new?master=secret&timeout=3600000")
        guard let sessionToken = session["session_token"]?.stringValue else { throw BenchError("no session: \(session)") }
        let mount = try await BenchHTTP.request("GET", tableURL + "user/\(user)/table?session_token=\(sessionToken)")
        let id = Digest.sha256Hex(Array(userURL.utf8))
        guard let token = mount["main"]?[id]?["store_token"]?.stringValue else { throw BenchError("no store token: \(mount)") }
        let query = "store_token=\(TokenQuery.escape(token))"
        try await expectOK("POST", userURL + "oplog?type=counter&path=/hits&\(query)",
                           body: ["date": .number(Double(WallClock.milliseconds())), "sha": .string("u\(user)"), "payload": 1])
        try await openStreamOnce(userURL + "oplog/stream?\(query)")
    }

    private func expectOK(_ method: String, _ url: String, basic: (String, String)? = nil, body: JSON? = nil) async throws {
        let answer = try await BenchHTTP.request(method, url, basic: basic, body: body)
        guard answer != .null, answer["error"] == nil else { throw BenchError("\(method) \(url): \(answer.canonicalString.prefix(300))") }
    }

    /// Opens the SSE stream, waits for its first bytes (the store has
    /// registered the listener by then), and closes the connection.
    private func openStreamOnce(_ url: String) async throws {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "text/event-stream")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        guard response.status == .ok else { throw BenchError("stream: \(response.status)") }
        var body = response.body.makeAsyncIterator()
        _ = try await body.next()
        // Dropping the body before its end makes the client close the connection.
    }
}

enum TokenQuery {
    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")) ?? text
    }
}
