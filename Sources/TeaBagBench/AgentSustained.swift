/// The agent bench's long runs (issue 15): pushes at a fixed rate for a
/// minute, with the outbox watched and both stores read afterwards; and the
/// agent's memory per held path.
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import TeaBagCore

/// Pushes at `rate` per second for `seconds` (open loop: push i is sent at
/// start + i / rate, by whichever of the workers is free), to 100 fresh
/// counter paths; then how long until the agent's outboxes are empty, and
/// what each store holds.
struct SustainedRun {
    static let workers = 64
    static let paths = 100

    var rate = 0.0, seconds = 0.0
    var made = 0
    var elapsed = 0.0
    var latency = Quantiles([])
    /// The most op-deliveries waiting in A's outboxes (both stores), sampled every 250 ms.
    var maxOutbox = 0
    /// From the last answer until A's outboxes were empty; nil: not within 60 s.
    var drained: Double?
    /// Per store, the sum of the paths' values: the ops it holds (each is +1).
    var storeSums: [Double] = []
    var cpu = 0.0

    var achieved: Double { Double(made) / elapsed }
    var everyOpHeld: Bool { !storeSums.isEmpty && storeSums.allSatisfy { $0 == Double(made) } }
    var drainedText: String { drained.map { String(format: "%.2f s", $0) } ?? "not within 60 s" }
    var summary: String {
        "\(AgentBench.grouped(made)) pushes in \(String(format: "%.1f", elapsed)) s (\(AgentBench.grouped(Int(achieved)))/s of \(AgentBench.grouped(Int(rate)))/s asked), p50 \(latency.p50) p99 \(latency.p99); outbox at most \(AgentBench.grouped(maxOutbox)), drained \(drainedText) after the end; stores hold \(storeSums.map { AgentBench.grouped(Int($0)) }) ops; agent \(String(format: "%.2f", cpu)) cores busy"
    }

    /// The pushes go over `socket` (blocking connections, one thread per
    /// worker, as the rate runs'); the outbox is read through `agent`.
    static func measure(_ agent: AgentAPI, socket: String, process: AgentBenchProcess, rate: Double, seconds: Double,
                        stores: StoreReader) async throws -> SustainedRun {
        var run = SustainedRun(rate: rate, seconds: seconds)
        let total = Int(rate * seconds)
        let next = Tickets()
        let watching = Tickets()
        let cpuStart = process.cpuSeconds()
        let start = ContinuousClock.now
        let watchdog = Watchdog("sustained", seconds: seconds * 4 + 120, note: " (the agents are left running: stop them by PID)")
        let sampler = Task {
            var most = 0
            while watching.peek() == 0 {
                most = Swift.max(most, (try? await agent.outboxTotal()) ?? 0)
                try? await Task.sleep(for: .milliseconds(250))
            }
            return most
        }
        let latencies = try await ThreadedLoad.run(workers, socket: socket) { _, connection in
            var mine: [Duration] = []
            while true {
                let i = next.take()
                if i >= total { return mine }
                let due = start + .nanoseconds(Int64(Double(i) / rate * 1e9))
                let early = due - ContinuousClock.now
                if early > .zero { usleep(UInt32(Quantiles.seconds(early) * 1e6)) }
                let t = ContinuousClock.now
                _ = try connection.push("/sustain/\(i % paths)")
                mine.append(ContinuousClock.now - t)
            }
        }.flatMap { $0 }
        let end = ContinuousClock.now
        run.elapsed = Quantiles.seconds(end - start)
        run.cpu = (process.cpuSeconds() - cpuStart) / run.elapsed
        run.made = latencies.count
        run.latency = Quantiles(latencies)
        while ContinuousClock.now - end < .seconds(60) {
            if try await agent.outboxTotal() == 0 {
                run.drained = Quantiles.seconds(ContinuousClock.now - end)
                break
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        _ = watching.take()
        run.maxOutbox = await sampler.value
        watchdog.done()
        run.storeSums = try await stores.sums(paths: (0..<paths).map { "/sustain/\($0)" })
        return run
    }
}

/// The agent's resident memory per held path: a fresh agent's RSS, then
/// `paths` new paths pushed (one op each, 16 workers), its outbox drained,
/// its RSS again; the difference divided. Agent B, which holds every path
/// its stores stream, is measured over the same span.
struct HeldPathsRun {
    var paths = 0
    var before = 0, after = 0
    var followerBefore = 0, followerAfter = 0

    var perPath: Double { Double(after - before) / Double(paths) }
    var followerPerPath: Double { Double(followerAfter - followerBefore) / Double(paths) }
    var summary: String {
        "\(AgentBench.grouped(paths)) paths: RSS \(before / 1024) → \(after / 1024) KiB, \(String(format: "%.2f", perPath / 1024)) KiB per path; agent B \(String(format: "%.2f", followerPerPath / 1024)) KiB per path"
    }

    static func measure(_ agent: AgentAPI, process: AgentBenchProcess, follower: AgentBenchProcess, paths: Int,
                        workers: Int) async throws -> HeldPathsRun {
        var run = HeldPathsRun(paths: paths)
        _ = try await agent.push("/held/warm-up")
        try await settle(agent)
        run.before = process.residentBytes()
        run.followerBefore = follower.residentBytes()
        let next = Tickets()
        let watchdog = Watchdog("held paths", seconds: Double(paths) / 100 + 120, note: " (the agents are left running: stop them by PID)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    while true {
                        let i = next.take()
                        if i >= paths { return }
                        _ = try await agent.push("/held/\(i)")
                    }
                }
            }
            try await group.waitForAll()
        }
        try await settle(agent)
        watchdog.done()
        run.after = process.residentBytes()
        run.followerAfter = follower.residentBytes()
        return run
    }

    /// The outbox empty, then a second for the write-behind cache and the streams.
    private static func settle(_ agent: AgentAPI) async throws {
        while try await agent.outboxTotal() > 0 { try await Task.sleep(for: .milliseconds(50)) }
        try await Task.sleep(for: .seconds(1))
    }
}

/// Reads what the stores hold, as user 1 with the store tokens of its mount table.
struct StoreReader: Sendable {
    let http: HTTPClient
    let tableURL: String
    let master: String
    let storeURLs: [String]

    /// Per store, the sum of the counter values at `paths`.
    func sums(paths: [String]) async throws -> [Double] {
        // The store tokens come with a session's mount table (docs/protocol.md#tokens), not the master's.
        let masterParameter = master.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? master
        let session = try await get(tableURL + "user/1/session/new?master=\(masterParameter)&timeout=600000&description=bench", basic: nil)
        guard let token = session["session_token"]?.stringValue else { throw BenchError("no session: \(session.canonicalString)") }
        let table = try await get(tableURL + "user/1/table?session_token=\(token)", basic: nil)
        var sums: [Double] = []
        for storeURL in storeURLs {
            let userURL = storeURL + "user/1/"
            let id = Digest.sha256Hex(Array(userURL.utf8))
            guard let token = table["main"]?[id]?["store_token"]?.stringValue else {
                throw BenchError("the mount table has no token for \(userURL): \(table.canonicalString)")
            }
            var sum = 0.0
            for path in paths {
                let answer = try await get(userURL + "value?type=counter&path=\(path)&store_token=\(token)", basic: nil)
                sum += answer["value"]?.doubleValue ?? 0
            }
            sums.append(sum)
        }
        return sums
    }

    private func get(_ url: String, basic: (String, String)?) async throws -> JSON {
        var request = HTTPClientRequest(url: url)
        if let basic {
            request.headers.add(name: "Authorization", value: "Basic " + Data("\(basic.0):\(basic.1)".utf8).base64EncodedString())
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        guard response.status == .ok else { throw BenchError("GET \(url): \(response.status) \(String(buffer: bytes))") }
        return try JSON.parse(Array(buffer: bytes))
    }
}

extension AgentAPI {
    /// Op-deliveries waiting in the agent's outboxes, every channel and store (`GET /v1/status`).
    func outboxTotal() async throws -> Int {
        let response = try await http.execute(HTTPClientRequest(url: base + "/v1/status"), timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        guard response.status == .ok else { throw BenchError("GET /v1/status: \(response.status)") }
        let status = try JSON.parse(Array(buffer: bytes))
        var total = 0
        for (_, channel) in status["channels"]?.objectValue ?? [:] {
            for store in channel["stores"]?.arrayValue ?? [] { total += Int(store["outbox"]?.doubleValue ?? 0) }
        }
        return total
    }
}

extension AgentBenchProcess {
    /// VmRSS from /proc/<pid>/status, in bytes.
    func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return 0 }
        return kib * 1024
    }
}

/// Numbers handed out once each, to whichever worker asks first.
final class Tickets: Sendable {
    private let next = Atomic<Int>(0)
    /// The next number (0, 1, 2, …).
    func take() -> Int { next.add(1, ordering: .relaxed).oldValue }
    /// How many were taken.
    func peek() -> Int { next.load(ordering: .relaxed) }
}
