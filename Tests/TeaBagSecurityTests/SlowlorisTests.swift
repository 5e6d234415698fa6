/// Slowloris: many connections that send their request head a byte at a
/// time and never finish it. A normal client must still be answered
/// promptly (their median within 2 s more than the slowest before the
/// attack, none stuck), and the servers must
/// close the slow connections once their idle timeout passes without a
/// complete head (here 1.5 s, to keep the test short; 75 s by default).
import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite("Attacks: slowloris")
struct SlowlorisTests {
    /// Connections per server.
    static let connections = 60

    /// Opens `count` connections to each port and trickles one header byte
    /// per connection every 100 ms, for at most `seconds`; how many of them
    /// the server closed (EOF, reset or a refused write) by then, per port.
    static func trickle(ports: [Int], count: Int, seconds: Double) throws -> [Int: Int] {
        var sockets: [(port: Int, connection: RawConnection, closed: Bool)] = []
        for port in ports {
            for _ in 0..<count {
                let connection = try RawConnection(port: port, timeout: 1)
                connection.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                sockets.append((port, connection, false))
            }
        }
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline && sockets.contains(where: { !$0.closed }) {
            for index in sockets.indices where !sockets[index].closed {
                let connection = sockets[index].connection
                var byte: UInt8 = 0
                let read = recv(connection.fd, &byte, 1, Int32(MSG_DONTWAIT))
                if read == 0 || (read < 0 && errno != EAGAIN && errno != EWOULDBLOCK) || !connection.send("X") {
                    sockets[index].closed = true
                }
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        var closed: [Int: Int] = [:]
        for socket in sockets where socket.closed { closed[socket.port, default: 0] += 1 }
        return closed
    }

    @Test("while slow connections trickle header bytes, normal requests are still answered promptly, and the slow ones are closed by the idle timeout")
    func slowloris() async throws {
        try await withShortIdleDeployment(idleTimeoutMs: 1_500, agent: true) { d in
            let agent = d.agent!
            let tally = AttackTally(.slowloris, test: "slowloris")
            let ports = [d.tablePort, d.storePort, agent.port]
            let requests: [(String, @Sendable () async throws -> HTTPAnswer)] = [
                ("table", { try await fresh(.GET, d.table.url + "user/1/table?session_token=\(d.session)") }),
                ("store", { try await fresh(.GET, d.storeUserURL + "oplog?type=counter&path=/slow&store_token=\(d.token)") }),
                ("agent", { try await fresh(.GET, agent.url + "v1/status") }),
            ]
            // Before the attack, for a bound that holds on a machine busy with other suites too:
            // 2 s more than the slowest of these.
            var slowest = Duration.zero
            for (name, request) in requests {
                let start = ContinuousClock.now
                let answer = try await request()
                slowest = max(slowest, ContinuousClock.now - start)
                #expect(answer.status == 200, "\(name) before the attack: \(answer.text)")
            }
            let bound = Duration.seconds(2) + slowest
            try await d.expectUnchanged(tally, "slowloris") {
                let attack = Task { try await onThread { try Self.trickle(ports: ports, count: Self.connections, seconds: 8) } }
                try await Task.sleep(for: .milliseconds(300))
                // While every slow connection is open: each request answered (a starved server
                // would hang them), and their median within the bound (one request on a machine
                // running other suites too may stall for a moment; a median does not).
                var latencies: [Duration] = []
                for round in 0..<5 {
                    for (name, request) in requests {
                        let start = ContinuousClock.now
                        let answer = try await request()
                        let elapsed = ContinuousClock.now - start
                        latencies.append(elapsed)
                        #expect(answer.status == 200, "\(name) round \(round): \(answer.text)")
                        #expect(elapsed < .seconds(10), "\(name) round \(round) took \(elapsed) under slowloris")
                    }
                    try await Task.sleep(for: .milliseconds(100))
                }
                let median = latencies.sorted()[latencies.count / 2]
                #expect(median < bound, "the median request took \(median) under slowloris (bound \(bound)): \(latencies)")
                let closed = try await attack.value
                for port in ports {
                    let count = closed[port] ?? 0
                    #expect(count == Self.connections, "port \(port): \(count) of \(Self.connections) slow connections closed by the idle timeout")
                    for index in 0..<Self.connections { tally.record(refused: index < count) }
                }
            }
            tally.save()
        }
    }
}
