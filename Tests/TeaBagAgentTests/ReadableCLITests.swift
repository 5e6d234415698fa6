import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

/// `teabag status` and `teabag get` for people (aligned columns) and for
/// programs (`--json`), issue 16 part 2.
@Suite struct ReadableCLITests {
    @Test func statusIsAnAlignedSummaryAndJSONOnRequest() async throws {
        try await withEnrolledUser(stores: 2) { user in
            let agent = try await AgentProcess.start(user)
            defer { agent.process.kill9() }
            #expect(try await agent.cli(["push", "main", "counter", "/n", "2"]).status == 0)
            // Both stores connected and the outbox empty, as the JSON says.
            #expect(try await eventually(15) {
                let json = try JSON.parse(try await agent.cli(["status", "--json"]).out)
                let stores = json["channels"]?["main"]?["stores"]?.arrayValue ?? []
                return stores.count == 2 && stores.allSatisfy { $0["connected"] == true && $0["outbox"]?.int64Value == 0 }
            })
            let json = try JSON.parse(try await agent.cli(["status", "--json"]).out)
            #expect(json["plugins"]?["types"]?.arrayValue?.contains("counter") == true)
            #expect(json["local_writes"]?.int64Value == 1)

            let text = try await agent.cli(["status"])
            #expect(text.status == 0)
            let lines = text.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.first?.hasPrefix("agent    node ") == true, "\(text.stdout)")
            #expect(lines.contains("channel  main   1 path held"), "\(text.stdout)")
            let header = try #require(lines.first { $0.hasPrefix("  STORE") })
            let rows = lines.filter { $0.contains("/user/1/") }
            #expect(rows.count == 2)
            // Every column starts where its heading does.
            for (heading, cell) in [("CONNECTION", "connected"), ("OUTBOX", "0"), ("URL", "http://")] {
                let column = try #require(header.range(of: heading)).lowerBound.utf16Offset(in: header)
                for row in rows {
                    let start = row.index(row.startIndex, offsetBy: column)
                    #expect(row[start...].hasPrefix(cell), "\(heading) in \(row)")
                }
            }
            #expect(lines.contains { $0.hasPrefix("reducers  ") && $0.contains("counter") && $0.contains("merge") })
        }
    }

    @Test func getPrintsObjectsAsAlignedKeysAndJSONOnRequest() async throws {
        try await withEnrolledUser { user in
            let agent = try await AgentProcess.start(user)
            defer { agent.process.kill9() }
            #expect(try await agent.cli(["push", "main", "merge", "/settings", #"{"theme":"dark","font":{"size":14,"family":"Iosevka"}}"#]).status == 0)
            let text = try await agent.cli(["get", "main", "merge", "/settings"])
            #expect(text.stdout == """
                font.family  "Iosevka"
                font.size    14
                theme        "dark"

                """)
            #expect(try await agent.cli(["get", "--json", "main", "merge", "/settings"]).out == #"{"font":{"family":"Iosevka","size":14},"theme":"dark"}"#)
            // Numbers, strings and arrays stay JSON; errors stay one line.
            #expect(try await agent.cli(["push", "main", "counter", "/n", "3"]).out == "3")
            #expect(try await agent.cli(["get", "main", "counter", "/n"]).out == "3")
            let missing = try await agent.cli(["get", "nope", "counter", "/n"])
            #expect(missing.status == 1 && missing.errorLines.count == 1)
            let noAgent = try await teabag(["status", "--agent", "/tmp/no-such-agent.sock"])
            #expect(noAgent.status == 1 && noAgent.errorLines.count == 1)
        }
    }
}
