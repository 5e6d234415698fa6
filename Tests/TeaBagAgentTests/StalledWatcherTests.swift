/// Memory that stays bounded (issue 14 §4), the agent's half: a `/v1/watch`
/// client that stops reading must not make the agent hold every frame it
/// cannot send, nor lose frames in silence. Two agents of one user get the
/// same ops (pushed on one, synced to the other); on one, a watcher opened
/// over a raw Unix socket never reads. It must be cut off once 8 MiB wait
/// for it, and that agent's heap must stay within a bound of the other's.
import Foundation
import Testing
import TeaBagCore
import TeaBagServerKit
import TeaBagTestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite("Agent: a watcher that stops reading")
struct StalledWatcherTests {
    static let elementBytes = 1024
    /// Each push's frame carries the whole log: 320 pushes of 1 KiB make
    /// about 50 MiB of frames.
    static let pushes = 320
    /// What a cut-off watcher may cost: 8 MiB waiting before the cut, plus allocator slack.
    static let bound = 24 << 20

    @Test("a watcher that never reads is cut off, and the agent's memory stays within 24 MiB of an agent without it")
    func stalledWatcherIsCutOff() async throws {
        try await withEnrolledUser(stores: 1) { user in
            let stalled = try await AgentProcess.start(user)
            let control = try await AgentProcess.start(user)
            defer {
                stalled.process.kill9()
                control.process.kill9()
            }
            let watcher = try UnixConnection(path: stalled.socket)
            #expect(watcher.send("GET /v1/watch?channel=main&type=log HTTP/1.1\r\nHost: agent\r\n\r\n"))

            func base(_ agent: AgentProcess) -> String {
                "http+unix://" + (agent.socket.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? agent.socket)
            }
            let filler = String(repeating: "x", count: Self.elementBytes - 8)
            var frameBytes = 0
            for index in 0..<Self.pushes {
                let answer = try await HTTP.request(.POST, base(stalled) + "/v1/push/main/log/big", json: .string(String(format: "%05d", index) + filler))
                #expect(answer.status == 200, "push \(index): \(answer.status) \(answer.text.prefix(200))")
                frameBytes += (index + 1) * Self.elementBytes
            }
            #expect(try await eventually(60) {
                try await HTTP.request(.GET, base(control) + "/v1/value/main/log/big").json?["value"]?.arrayValue?.count == Self.pushes
            }, "the control agent holds the same log")
            try await Task.sleep(for: .seconds(1))
            let held = try anonymousBytes(pid: stalled.process.pid), baseline = try anonymousBytes(pid: control.process.pid)
            print("stalled watcher: RssAnon \(held >> 20) MiB, the control's \(baseline >> 20) MiB, \(frameBytes >> 20) MiB of frames")
            #expect(held - baseline < Self.bound,
                    "the agent with a stalled watcher holds \((held - baseline) >> 20) MiB more than one without (bound \(Self.bound >> 20) MiB)")

            // Reading now: what was on its way, then the end — far less than the frames made.
            let (bytes, ended) = try await Task.detached { watcher.drain() }.value
            print("stalled watcher: read \(bytes >> 20) MiB of \(frameBytes >> 20) MiB, then \(ended ? "the end" : "nothing")")
            #expect(ended, "the watcher was not cut off: \(bytes >> 20) MiB read and the stream still open")
            #expect(bytes < frameBytes / 2, "the watcher read \(bytes >> 20) MiB of the \(frameBytes >> 20) MiB of frames")

            // The agent goes on: a new watcher gets the next change.
            let next = try UnixConnection(path: stalled.socket)
            #expect(next.send("GET /v1/watch?channel=main&type=counter HTTP/1.1\r\nHost: agent\r\n\r\n"))
            #expect(try await stalled.cli(["push", "main", "counter", "/after", "1"]).status == 0)
            #expect(try await Task.detached { next.read(until: "\"path\":\"/after\"") }.value, "a new watch after the cut-off gets the next change")
        }
    }
}

/// A blocking client of a Unix socket that reads only when told to.
final class UnixConnection: Sendable {
    let fd: Int32

    init(path: String, timeout: Int = 5) throws {
        do { fd = try UnixSocket.connect(path) } catch { throw TestFailure(error.description) }
        var value = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    func drain() -> (bytes: Int, ended: Bool) { drainSocket(fd) }

    /// Reads until `text` has arrived; false on the end or a timeout first.
    func read(until text: String) -> Bool {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return false }
            received += chunk[..<count]
            if String(decoding: received, as: UTF8.self).contains(text) { return true }
        }
    }
}
