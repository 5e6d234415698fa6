import Foundation
import Testing
import TeaBagCore
import TeaBagStore
import TeaBagTestSupport

/// The agent's dashboard in a real headless Chromium (issue 16): refused
/// without its token, live with it, a pushed value on screen within 2 s, a
/// stopped store shown disconnected, a refused write shown with its reason.
/// Takes the screenshots docs/dashboard*.png that the README shows.
@Suite(.serialized) struct DashboardBrowserTests {
    @Test func theDashboardShowsTheAgentLiveInChromium() async throws {
        // `level` on the stores validates (numbers only); the agent's accepts anything,
        // so a string reaches the stores and they refuse it with their reason.
        let strict = try temporaryDirectory("strict"), lenient = try temporaryDirectory("lenient")
        _ = try ReducerBuilds.level(strict: true, into: strict)
        _ = try ReducerBuilds.level(strict: false, into: lenient)
        try await withEnrolledUser(stores: 2, configureStore: { $0.pluginDirectories = [Repository.plugins, strict] }) { user in
            let agent = try await AgentProcess.start(user, plugins: [lenient])
            defer { agent.process.kill9() }

            let printed = try await agent.cli(["dashboard", "--no-open"])
            #expect(printed.status == 0)
            let url = printed.out
            #expect(url.range(of: #"^http://127\.0\.0\.1:[0-9]+/\?token=[0-9a-f]{64}$"#, options: .regularExpression) != nil, "\(url)")

            let signals = try temporaryDirectory("signals")
            let log = (signals as NSString).appendingPathComponent("driver.log")
            let errors = (signals as NSString).appendingPathComponent("driver.err")
            let driver = try ChildProcess("/usr/bin/env", [
                "python3", "\(Repository.root)/Tests/TeaBagAgentTests/dashboard_browser.py", "--url", url, "--teabag", Repository.teabag,
                "--agent", agent.socket, "--signals", signals, "--shots", "\(Repository.root)/docs",
            ], stdout: .file(log), stderr: .file(errors))
            var stopped = false
            var status: Int32?
            let deadline = Date().addingTimeInterval(150)
            while status == nil, Date() < deadline {
                if !stopped, FileManager.default.fileExists(atPath: (signals as NSString).appendingPathComponent("stop-store")) {
                    await user.stores[1].stop()
                    FileManager.default.createFile(atPath: (signals as NSString).appendingPathComponent("store-stopped"), contents: nil)
                    stopped = true
                }
                status = try await driver.waitForExit(seconds: 0.1)
            }
            if status == nil { driver.signal(SIGKILL) }
            let findings = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            let reasons = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            #expect(status == 0, "the browser driver failed: \(reasons.suffix(3000))")
            let json = try? JSON.parse(findings.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(json?["refused_without_token"] == true && json?["events_without_token"]?.int64Value == 401, "\(findings)")
            #expect(json?["store_disconnected"] == true && json?["refused_write_shown"] == true, "\(findings)")
            #expect((json?["value_seen_after_s"]?.doubleValue ?? 99) <= 2, "\(findings)")

        }
    }
}
