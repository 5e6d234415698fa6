/// Memory that stays bounded (issue 14 §4): an SSE listener that stops
/// reading must not make the store hold what it cannot send. Two `teabag
/// store` processes get the same 48 MB of ops; on one of them two listeners
/// opened over raw sockets never read — one whose token the store sees for
/// the first time on that request (the router answers it), one whose token
/// it has already checked (answered on the event loop). The store must cut
/// both off once 8 MiB wait for them, so that its anonymous memory stays
/// within a bound of the control's, whatever is pushed.
import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite("Memory: a stream listener that stops reading")
struct StalledListenerTests {
    static let opBytes = 64 * 1024
    static let opsPerBatch = 12
    static let batches = 64  // 12 × 64 KiB × 64 = 48 MiB of events
    /// What two cut-off listeners may cost: 8 MiB each waiting before the cut,
    /// plus slack for the allocator. Held for good, the pushes would cost 48 MiB each.
    static let bound = 24 << 20

    @Test("two listeners that never read (a token seen first on the stream, and one already checked) are cut off; the store's memory stays within 24 MiB of a store without them after 48 MiB of events")
    func stalledListenersAreCutOff() async throws {
        let directory = try temporaryDirectory("stalled")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withTable(data: directory + "/table") { table in
            try await Enrollment.createUser(tableURL: table.url)

            var stores: [(process: TeaBagProcess, url: String, port: Int)] = []
            defer { for store in stores { store.process.kill9() } }
            for name in ["stalled", "control"] {
                let process = try TeaBagProcess(["store", "--port", "0", "--data", directory + "/" + name, "--key", testStoreKey,
                                                 "--plugins", Repository.plugins], directory: directory)
                stores.append((process, "", 0))
                let url = try #require(try await process.waitUntilListening("store"), "\(process.stderr)") + "/"
                stores[stores.count - 1] = (process, url, URL(string: url)!.port!)
                try await Enrollment.enroll(tableURL: table.url, storeURL: url)
            }
            let (stalled, control) = (stores[0], stores[1])
            func token(_ storeURL: String) async throws -> String {
                let session = try await Enrollment.session(tableURL: table.url)
                return try await Enrollment.storeToken(tableURL: table.url, session: session, storeUserURL: storeURL + "user/1/")
            }
            let firstSight = try await token(stalled.url)
            let checked = try await token(stalled.url)
            #expect(try await StoreClient(userURL: stalled.url + "user/1/", token: checked).oplog("blob", "/b").status == 200)
            let pushers = [try await token(stalled.url), try await token(control.url)]

            let listeners = try [firstSight, checked].map { token in
                let connection = try RawConnection(port: stalled.port, timeout: 5)
                connection.send(requestHead("GET", "/user/1/oplog/stream?store_token=\(token)", headers: [("Accept", "text/event-stream")]))
                return connection
            }
            for (index, listener) in listeners.enumerated() {
                #expect(Self.answered(listener, within: 10), "listener \(index): no answer to the stream request")
            }

            let filler = String(repeating: "x", count: Self.opBytes)
            let date = nowMs()
            for batch in 0..<Self.batches {
                let ops = (0..<Self.opsPerBatch).map { index in
                    #"{"type":"blob","path":"/b","op":{"date":\#(date + Int64(batch)),"sha":"s\#(batch)-\#(index)","payload":"\#(filler)"}}"#
                }
                let body = Array(#"{"ops":[\#(ops.joined(separator: ","))]}"#.utf8)
                for (store, token) in zip([stalled, control], pushers) {
                    let answer = try await HTTP.request(.POST, store.url + "user/1/oplog/batch?store_token=\(token)",
                                                        headers: [("Content-Type", "application/json")], body: body, timeout: .seconds(30))
                    #expect(answer.status == 200, "batch \(batch): \(answer.status) \(answer.text.prefix(300))")
                }
            }
            // What the stores hold once they have sent what they could.
            try await Task.sleep(for: .seconds(1))
            let held = try anonymousBytes(pid: stalled.process.pid), baseline = try anonymousBytes(pid: control.process.pid)
            print("stalled listeners: RssAnon \(held >> 20) MiB, the control's \(baseline >> 20) MiB")
            #expect(held - baseline < Self.bound,
                    "the store with stalled listeners holds \((held - baseline) >> 20) MiB more than one without (bound \(Self.bound >> 20) MiB)")

            // Reading now: each listener gets what was on its way, then the end —
            // far less than was pushed: it was cut off.
            let pushed = Self.opBytes * Self.opsPerBatch * Self.batches
            for (index, listener) in listeners.enumerated() {
                listener.setTimeout(5)
                let fd = listener.fd
                let (bytes, ended) = try await onThread { drainSocket(fd) }
                print("stalled listener \(index): read \(bytes >> 20) MiB of \(pushed >> 20) MiB, then \(ended ? "the end" : "nothing")")
                #expect(ended, "listener \(index) was not cut off: \(bytes >> 20) MiB read and the stream still open")
                #expect(bytes < pushed / 2, "listener \(index) read \(bytes >> 20) MiB of the \(pushed >> 20) MiB pushed")
            }
        }
    }

    /// Whether bytes (the response head) arrived, without reading them.
    static func answered(_ connection: RawConnection, within seconds: Double) -> Bool {
        var poller = pollfd(fd: connection.fd, events: Int16(POLLIN), revents: 0)
        return poll(&poller, 1, Int32(seconds * 1000)) > 0
    }
}
