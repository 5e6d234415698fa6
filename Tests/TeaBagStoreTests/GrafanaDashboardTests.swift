import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

/// deploy/grafana/teabag.json queries only metrics that a live table and a
/// live store really expose on /metrics (issue 16 part 5).
@Suite struct GrafanaDashboardTests {
    /// Every `teabag_…` name in the dashboard's queries.
    static func queriedMetrics() throws -> Set<String> {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(Repository.root)/deploy/grafana/teabag.json"))
        let dashboard = try JSON.parse(Array(data), maxDepth: 64)
        var queries: [String] = []
        func walk(_ value: JSON) {
            switch value {
            case .object(let members):
                for (key, member) in members {
                    if key == "expr" || key == "definition" || key == "query", let text = member.stringValue { queries.append(text) }
                    walk(member)
                }
            case .array(let items): items.forEach(walk)
            default: break
            }
        }
        walk(dashboard)
        let pattern = try NSRegularExpression(pattern: "teabag_[a-z0-9_]+")
        return Set(queries.flatMap { query in
            pattern.matches(in: query, range: NSRange(query.startIndex..., in: query)).map { String(query[Range($0.range, in: query)!]) }
        })
    }

    /// Sample names on a /metrics page (`name{labels} value` or `name value`).
    static func exposed(_ text: String) -> Set<String> {
        Set(text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            line.split(whereSeparator: { $0 == "{" || $0 == " " }).first.map(String.init)
        })
    }

    @Test func everyQueriedMetricExistsOnALiveTableOrStore() async throws {
        let queried = try Self.queriedMetrics()
        #expect(queried.count >= 8, "\(queried)")
        try await withEnrolledUser { user in
            // Traffic, so that the per-route series and the writer's histograms have samples.
            #expect(try await user.client().push("counter", "/c", payloadOp(nowMs(), "g1", 1)).status == 200)
            #expect(try await user.client().push("counter", "/c", payloadOp(nowMs(), "g1", 1)).status == 200)
            #expect(try await user.client().push("counter", "/c", payloadOp(nowMs(), "g2", "x")).status == 400)
            let storeMetrics = try await HTTP.get(user.store.url + "metrics").text
            let tableMetrics = try await HTTP.get(user.table.url + "metrics").text
            let exposed = Self.exposed(storeMetrics).union(Self.exposed(tableMetrics))
            let missing = queried.subtracting(exposed).sorted()
            #expect(missing.isEmpty, "queried but not on /metrics: \(missing)")
            // And the outcomes the ops panel splits by are all there.
            for outcome in ["accepted", "refused", "noop"] {
                #expect(storeMetrics.contains("teabag_store_ops_total{") && storeMetrics.contains("outcome=\"\(outcome)\""))
            }
        }
    }
}
