import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

/// `teabag dev` reads conf.d like every other role (issue 16 part 4): a
/// libffi reducer declared there is served, and agent keys reach its agent.
@Suite struct DevConfDTests {
    static let confD = """
        reducers:
          max:
            library: libm.so.6
            symbol: fmax
            signature: "double(double,double)"
        agent:
          dashboard_port: -1
        prune:
          min_ops: 8
        """

    /// Runs `teabag dev` with `arguments` in `directory`; checks that `max`
    /// folds through libffi and that the agent runs without a dashboard.
    func expectConfDServed(_ arguments: [String], directory: String) async throws {
        let dev = try TeaBagProcess(["dev", "--port", "0"] + arguments, directory: directory)
        let line = try #require(try await dev.waitUntilListening("agent"), "dev did not start: \(dev.stderr)")
        let socket = String(line.dropFirst("unix:".count))
        let absolute = socket.hasPrefix("/") ? socket : directory + "/" + socket
        #expect(try await eventually(10) { try await teabag(["push", "--agent", absolute, "main", "max", "/best", "5"]).status == 0 })
        #expect(try await teabag(["push", "--agent", absolute, "main", "max", "/best", "3"]).out == "5")
        #expect(try await teabag(["get", "--agent", absolute, "main", "max", "/best"]).out == "5")
        let dashboard = try await teabag(["dashboard", "--no-open", "--agent", absolute])
        #expect(dashboard.status == 1 && dashboard.stderr.contains("AgentError:NoDashboard"), "\(dashboard.stderr)")
        dev.signal(SIGTERM)
        #expect(try await dev.waitForExit(seconds: 10) == 0)
    }

    @Test func devBesideAConfDServesItsLibFFIReducer() async throws {
        let directory = try temporaryDirectory("devconf")
        try FileManager.default.createDirectory(atPath: directory + "/conf.d", withIntermediateDirectories: true)
        try Self.confD.write(toFile: directory + "/conf.d/10-reducers.yaml", atomically: true, encoding: .utf8)
        try await expectConfDServed(["--data", "data"], directory: directory)
    }

    @Test func devWithConfigDirServesItsLibFFIReducer() async throws {
        let conf = try temporaryDirectory("devconf")
        try Self.confD.write(toFile: conf + "/10-reducers.yaml", atomically: true, encoding: .utf8)
        let data = try temporaryDirectory("dev")
        try await expectConfDServed(["--config", conf, "--data", data], directory: Repository.root)
    }
}
