/// Thousands of headers, and headers too large: 431
/// `ServerError:HeadersTooLarge` in the protocol's JSON, from the table,
/// the store and the agent, before any route runs.
import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Attacks: headers")
struct HeaderAttackTests {
    @Test("thousands of headers, one huge header, or a huge request line are refused with a JSON 4xx; nothing changes")
    func thousandsOfHeaders() async throws {
        try await withDeployment(agent: true) { d in
            let tally = AttackTally(.headers, test: "thousands of headers")
            let op = Array(payloadOp(nowMs(), "headers", 1).canonicalString.utf8)
            let targets: [(String, Int, String)] = [
                ("table", d.tablePort, "/user/1/table/other/store?master=secret"),
                ("store", d.storePort, "/user/1/oplog?type=counter&path=/h&store_token=\(d.user.token)"),
                ("agent", d.agent!.port, "/v1/push/main/counter/h"),
            ]
            try await d.expectUnchanged(tally, "header floods") {
                for (name, port, path) in targets {
                    for count in [1_001, 5_000, 20_000] {
                        let headers = (0..<count).map { ("X-Flood-\($0)", "v") }
                        let request = requestHead("POST", path, headers: [("Content-Type", "application/json"), ("Content-Length", String(op.count))] + headers) + op
                        tally.expectError(try await rawExchange(port: port, request), status: 431, name: "ServerError:HeadersTooLarge",
                                          "\(name): \(count) headers")
                    }
                    // Thousands of repeats of one header name.
                    let repeated = (0..<3_000).map { _ in ("Authorization", "Bearer \(d.user.token)") }
                    tally.expectError(try await rawExchange(port: port, requestHead("GET", path, headers: repeated)), status: 431,
                                      name: "ServerError:HeadersTooLarge", "\(name): 3,000 Authorization headers")
                    // One header of 100 KiB, and a request line of 100 KiB.
                    let huge = [("X-Huge", String(repeating: "h", count: 100 * 1024))]
                    tally.expectError(try await rawExchange(port: port, requestHead("GET", path, headers: huge)), status: 431,
                                      name: "ServerError:HeadersTooLarge", "\(name): one 100 KiB header")
                    let longTarget = path + "&pad=" + String(repeating: "p", count: 100 * 1024)
                    tally.expectError(try await rawExchange(port: port, requestHead("GET", longTarget)), statuses: [400, 414, 431],
                                      "\(name): a 100 KiB request line")
                }
            }
            // The servers still answer.
            #expect(try await HTTP.get(d.table.url + "healthz").isOK)
            #expect(try await HTTP.get(d.store.url + "healthz").isOK)
            #expect(try await HTTP.get(d.agent!.url + "healthz").isOK)
            tally.save()
        }
    }
}
