/// The OpenAPI descriptions in docs/openapi/ stay true: every route a
/// server's router registers is described, and every described route is
/// registered (Hummingbird's `Router.routes`, kept by each server as
/// `routes`).
import Foundation
import Logging
import Testing
import TeaBagAgent
import TeaBagStore
import TeaBagTable
import TeaBagTestSupport
import Yams

@Suite("OpenAPI descriptions")
struct OpenAPIRouteTests {
    /// `METHOD /path/{param}` of every operation in `docs/openapi/<name>.yaml`.
    static func described(_ name: String) throws -> Set<String> {
        let text = try String(contentsOfFile: "\(Repository.root)/docs/openapi/\(name).yaml", encoding: .utf8)
        let document = try #require(try Yams.load(yaml: text) as? [String: Any])
        #expect((document["openapi"] as? String)?.hasPrefix("3.") == true, "\(name).yaml is not OpenAPI 3")
        let paths = try #require(document["paths"] as? [String: Any], "\(name).yaml has no paths")
        var routes: Set<String> = []
        for (path, item) in paths {
            let operations = try #require(item as? [String: Any], "\(name).yaml: \(path)")
            for method in ["get", "put", "post", "delete", "patch", "head", "options"] where operations[method] != nil {
                routes.insert("\(method.uppercased()) \(path)")
            }
        }
        return routes
    }

    /// A router's route as the description writes it: the catch-all `**` is the `{path}` parameter.
    static func normalized(_ routes: [String]) -> Set<String> {
        Set(routes.map { $0.replacingOccurrences(of: "/**", with: "/{path}") })
    }

    static let logger = Logger(label: "routes", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test("docs/openapi/table.yaml describes exactly the table's routes")
    func table() throws {
        let data = try temporaryDirectory("openapi-table")
        defer { try? FileManager.default.removeItem(atPath: data) }
        var configuration = TableConfiguration()
        configuration.dataDirectory = data
        configuration.key = testTableKey
        let server = try TableServer.build(configuration: configuration, logger: Self.logger)
        try Self.expectDescribed("table", routes: server.routes, atLeast: 12)
    }

    @Test("docs/openapi/store.yaml describes exactly the store's routes")
    func store() throws {
        let data = try temporaryDirectory("openapi-store")
        defer { try? FileManager.default.removeItem(atPath: data) }
        var configuration = StoreConfiguration()
        configuration.dataDirectory = data
        configuration.key = testStoreKey
        configuration.pluginDirectories = []
        let server = try StoreServer.build(configuration: configuration, logger: Self.logger)
        try Self.expectDescribed("store", routes: server.routes, atLeast: 11)
    }

    @Test("docs/openapi/agent.yaml describes exactly the agent's local API")
    func agent() throws {
        let data = try temporaryDirectory("openapi-agent")
        defer { try? FileManager.default.removeItem(atPath: data) }
        var configuration = AgentConfiguration()
        configuration.tableURL = "http://127.0.0.1:1/"
        configuration.user = 1
        configuration.sessionToken = "session_1_1_1_x"
        configuration.dataDirectory = data
        configuration.pluginDirectories = []
        let server = try AgentServer.build(configuration: configuration, logger: Self.logger)
        try Self.expectDescribed("agent", routes: server.routes, atLeast: 7)
    }

    /// The routes a server registers and those docs/openapi/NAME.yaml
    /// describes are the same set (and not trivially empty).
    static func expectDescribed(_ name: String, routes: [String], atLeast minimum: Int,
                                sourceLocation: SourceLocation = #_sourceLocation) throws {
        let registered = normalized(routes)
        #expect(registered.count >= minimum, sourceLocation: sourceLocation)
        let documented = try described(name)
        #expect(registered.subtracting(documented).sorted() == [], "registered but not described", sourceLocation: sourceLocation)
        #expect(documented.subtracting(registered).sorted() == [], "described but not registered", sourceLocation: sourceLocation)
    }
}
