/// Store figures (issue 4): single-op pushes at both durability settings,
/// batches, growth of the path, and POST-to-SSE delivery latency.
import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import TeaBagCore
import TeaBagServerKit

struct StoreBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store", abstract: "Push, batch, growth and delivery figures of the store.")

    @Option(help: "Seconds per wrk measurement.") var seconds = 10
    @Option(help: "Events per delivery measurement.") var events = 2_000
    @Option(help: "Where to write the report.") var out = "docs/benchmarks/store.md"
    @Option(help: "Instead of the report: time N batches of 1,000 ops pushed in process, no HTTP (for perf record).")
    var inProcessBatches: Int?
    @Option(help: "store.database: a postgresql:// URL (an empty database) to measure the store on PostgreSQL instead of SQLite; durability then has no effect (PostgreSQL's synchronous_commit decides).")
    var database: String?

    func run() async throws {
        var rows: [String] = []
        func row(_ name: String, _ result: WrkResult, multiplier: Double = 1, goal: String = "") {
            let line = "| \(name) | \(Report.formatRate(result.requestsPerSecond * multiplier)) | \(result.p50) | \(result.p99) | \(goal) |"
            say(line)
            rows.append(line)
            if let errors = result.errors { rows.append("| ↳ \(errors) | | | | |") }
        }

        if let inProcessBatches {
            let deployment = try await BenchDeployment.start(durability: .normal, storeDatabase: database)
            for round in 0..<inProcessBatches {
                let items: [JSON] = (0..<1000).map { i in
                    ["type": "counter", "path": .string("/m\(i % 100)"), "op": ["date": .number(Double(1_700_000_000_000 + round * 1000 + i)), "sha": .string("m\(round)-\(i)"), "payload": 1]]
                }
                let start = ContinuousClock.now
                _ = try await deployment.store.service.pushBatch(user: 1, items: items)
                say("1000 ops in-process: \(ContinuousClock.now - start)")
            }
            await deployment.stop()
            return
        }
        for durability in [Durability.normal, .full] {
            let deployment = try await BenchDeployment.start(durability: durability, storeDatabase: database)
            let push = try Scripts.write(Scripts.singleOp(token: deployment.storeToken, paths: 1_000))
            for connections in [16, 64] {
                row("single-op POST, durability \(durability.rawValue), \(connections) connections",
                    try Wrk.run(url: deployment.storeURL, connections: connections, seconds: seconds, script: push),
                    goal: durability == .normal ? "≥ 20,000" : "")
            }
            if durability == .normal {
                let batch = try Scripts.write(Scripts.batch(token: deployment.storeToken, size: 100))
                row("batch POST of 100 ops (ops/s), 16 connections",
                    try Wrk.run(url: deployment.storeURL, connections: 16, seconds: seconds, script: batch), multiplier: 100, goal: "≥ 200,000")
                var previous = 0
                for size in [10, 1_000, 100_000] {
                    try await Prefill.path("/grow\(size)", ops: size - previous, deployment: deployment)
                    previous = 0
                    let grow = try Scripts.write(Scripts.singleOp(token: deployment.storeToken, paths: 1, pathName: "/grow\(size)"))
                    row("single-op POST onto a path holding \(size) ops, 16 connections",
                        try Wrk.run(url: deployment.storeURL, connections: 16, seconds: seconds, script: grow),
                        goal: size == 100_000 ? "within 80% of the 10-op figure" : "")
                }
                for listeners in [1, 100] {
                    let latency = try await Delivery.measure(deployment: deployment, listeners: listeners, events: events)
                    let line = "| POST → SSE event, \(listeners) listener(s), \(events) events | | \(latency.p50) | \(latency.p99) | p99 ≤ 5 ms |"
                    say(line)
                    rows.append(line)
                }
            }
            await deployment.stop()
        }
        let nginx = try? Nginx.measure(connections: 16, seconds: seconds)
        let anchor = nginx.map { "nginx `return 204` measured in the same run: \(Report.formatRate($0.requestsPerSecond)) req/s (NOTES: 101,700 on the reference machine)." } ?? ""
        let markdown = """
        # Store benchmark

        `swift run -c release teabag-bench store` on \(Report.machine()), \(ISO8601DateFormatter().string(from: Date())). \
        Table and store in one release process on 127.0.0.1; wrk (2 threads) on the same two cores. Pushes are `counter` \
        ops validated by the C plugin and folded into the materialized value, each with a unique sha, spread over 1,000 \
        paths unless said; latency is wrk's (p50/p99 of the request). Oplogs in \(database == nil ? "SQLite (the default)" : "PostgreSQL (`--database`; `durability` has no effect)"). \(anchor)

        | measurement | ops/s | p50 | p99 | goal |
        | --- | ---: | ---: | ---: | --- |
        \(rows.joined(separator: "\n"))

        Delivery: one client pushes ops one at a time; each listener's SSE connection timestamps every event; \
        the latency is event receipt − request start, over every event at every listener.
        """
        try Report.write(markdown + "\n", to: out)
        say("written to \(out)")
    }
}

enum Scripts {
    static func write(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "teabag-bench-\(UUID().uuidString).lua"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Each request a new op (unique sha per thread and request), dated now.
    static func singleOp(token: String, paths: Int, pathName: String? = nil) -> String {
        let path = pathName.map { "\"\($0)\"" } ?? "string.format(\"/p%d\", counter % \(paths))"
        return """
        local threads = {}
        function setup(thread) table.insert(threads, thread); thread:set("tid", #threads) end
        function init(args) counter = 0; last = 0; math.randomseed(os.time() + tid); prefix = tid .. "-" .. math.random(1, 1000000000) end
        request = function()
          counter = counter + 1
          -- The agent's date rule: now, but never behind this writer's previous op.
          last = math.max(os.time() * 1000, last + 1)
          local body = string.format('{"date":%d,"sha":"%s-%d","payload":1}', last, prefix, counter)
          local url = "/user/1/oplog?type=counter&store_token=\(token)&path=" .. \(path)
          return wrk.format("POST", url, {["Content-Type"] = "application/json"}, body)
        end
        """
    }

    static func batch(token: String, size: Int) -> String {
        """
        local threads = {}
        function setup(thread) table.insert(threads, thread); thread:set("tid", #threads) end
        function init(args) counter = 0; math.randomseed(os.time() + tid); prefix = tid .. "-" .. math.random(1, 1000000000) end
        request = function()
          local ops = {}
          local now = os.time() * 1000
          for i = 1, \(size) do
            counter = counter + 1
            ops[i] = string.format('{"type":"counter","path":"/b%d","op":{"date":%d,"sha":"%s-%d","payload":1}}', counter % 1000, now, prefix, counter)
          end
          return wrk.format("POST", "/user/1/oplog/batch?store_token=\(token)", {["Content-Type"] = "application/json"}, '{"ops":[' .. table.concat(ops, ",") .. ']}')
        end
        """
    }
}

enum Prefill {
    /// Puts `ops` ops on one path through the batch route, 1,000 at a time.
    static func path(_ path: String, ops: Int, deployment: BenchDeployment) async throws {
        var written = 0
        let now = WallClock.milliseconds()
        while written < ops {
            let count = min(1_000, ops - written)
            let items: [JSON] = (0..<count).map { i in
                ["type": "counter", "path": .string(path),
                 "op": ["date": .number(Double(now - 1_000_000 + Int64(written + i))), "sha": .string("fill-\(path)-\(written + i)"), "payload": 1]]
            }
            try await BenchHTTP.request("POST", deployment.storeURL + "user/1/oplog/batch?store_token=\(deployment.storeToken)", body: ["ops": .array(items)])
            written += count
        }
    }
}
