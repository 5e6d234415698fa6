/// POST → SSE delivery latency: listeners hold SSE connections to the store,
/// one client pushes ops one at a time, and every event's arrival is timed
/// against the start of the request that carried its op.
import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization
import TeaBagCore

enum Delivery {
    struct Figures {
        let p50: String
        let p99: String
    }

    /// What the pusher and the listeners share.
    final class Recorder: Sendable {
        let sent = Mutex<[String: ContinuousClock.Instant]>([:])
        let latencies = Mutex<[Duration]>([])
        let ready = Mutex(0)
    }

    static func measure(deployment: BenchDeployment, listeners: Int, events: Int) async throws -> Figures {
        let recorder = Recorder()
        let expected = listeners * events
        let prefix = "dl\(listeners)-\(UUID().uuidString.prefix(8))"
        let streamURL = deployment.storeURL + "user/1/oplog/stream?store_token=\(deployment.storeToken)"
        // One connection per listener: the shared client allows 8 per host.
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = listeners + 8
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)

        let listening = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<listeners {
                    group.addTask {
                        var request = HTTPClientRequest(url: streamURL)
                        request.headers.add(name: "Accept", value: "text/event-stream")
                        let response = try await client.execute(request, timeout: .seconds(600))
                        recorder.ready.withLock { $0 += 1 }
                        var pending = ""
                        var seen = 0
                        for try await chunk in response.body {
                            let now = ContinuousClock.now
                            pending += String(buffer: chunk)
                            while let end = pending.range(of: "\n\n") {
                                let event = pending[..<end.lowerBound]
                                pending = String(pending[end.upperBound...])
                                guard let data = event.split(separator: "\n").first(where: { $0.hasPrefix("data: ") }),
                                      let json = try? JSON.parse(String(data.dropFirst(6))),
                                      let sha = json["op"]?["sha"]?.stringValue, sha.hasPrefix(prefix),
                                      let start = recorder.sent.withLock({ $0[sha] }) else { continue }
                                recorder.latencies.withLock { $0.append(now - start) }
                                seen += 1
                            }
                            if seen >= events { return }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        while recorder.ready.withLock({ $0 }) < listeners { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(200))
        for i in 0..<events {
            let sha = "\(prefix)-\(i)"
            let body: JSON = ["date": .number(Double(WallClock.milliseconds())), "sha": .string(sha), "payload": 1]
            recorder.sent.withLock { $0[sha] = ContinuousClock.now }
            try await BenchHTTP.request("POST", deployment.storeURL + "user/1/oplog?type=counter&path=/delivery&store_token=\(deployment.storeToken)", body: body)
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while recorder.latencies.withLock({ $0.count }) < expected && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        listening.cancel()
        _ = await listening.result
        try await client.shutdown()
        let sorted = recorder.latencies.withLock { $0 }.sorted()
        guard !sorted.isEmpty else { throw BenchError("no event was delivered") }
        func quantile(_ q: Double) -> String {
            let d = sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
            return String(format: "%.2fms", Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000)
        }
        return Figures(p50: quantile(0.5), p99: quantile(0.99))
    }
}
