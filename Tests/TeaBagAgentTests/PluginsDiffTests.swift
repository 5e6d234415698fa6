import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

/// `teabag plugins diff NEW.so --data DIR` (issue 16 part 3): the dry run
/// of a reducer upgrade on an agent's and a store's data directory, both
/// live, read-only.
@Suite struct PluginsDiffTests {
    /// Held `max` paths: /a 3,7 → 7 and /b 5,12 → 12 and /c 20 and /d -5,3 → 3; counter /x.
    /// Version 2 clamps at 10 (/b and /c change) and skips negative payloads (/d skips one op, value unchanged).
    static let pushes: [(String, String, String)] = [
        ("max", "/a", "3"), ("max", "/a", "7"), ("max", "/b", "5"), ("max", "/b", "12"), ("max", "/c", "20"),
        ("max", "/d", "-5"), ("max", "/d", "3"), ("counter", "/x", "1"),
    ]

    struct Setup {
        let user: EnrolledUser
        let agent: AgentProcess
        let installed: String
        let candidates: String
    }

    static func setUp() async throws -> Setup {
        let installed = try temporaryDirectory("installed"), candidates = try temporaryDirectory("candidates")
        _ = try ReducerBuilds.max(into: installed)
        let user = try await EnrolledUser.start()
        let agent = try await AgentProcess.start(user, plugins: [installed])
        for (type, path, payload) in pushes {
            // `--`: a payload like -5 is not an option.
            #expect(try await agent.cli(["push", "main", type, path, "--", payload]).status == 0)
        }
        return Setup(user: user, agent: agent, installed: installed, candidates: candidates)
    }

    func diff(_ library: String, data: String, installed: String, _ more: [String] = []) async throws -> CLIResult {
        try await teabag(["plugins", "diff", library, "--data", data, "--plugins", installed, "--config", try emptyConfig()] + more)
    }

    static func lines(_ result: CLIResult, _ prefix: String) -> [String] {
        result.stdout.split(separator: "\n").map(String.init).filter { $0.hasPrefix(prefix) }
    }

    @Test func onALiveAgentItShowsExactlyWhatAnUpgradeChanges() async throws {
        let setup = try await Self.setUp()
        let same = try ReducerBuilds.max(into: setup.candidates, as: "max-copy.so")
        let v2 = try ReducerBuilds.clampedMax(into: setup.candidates)

        // The agent runs: its oplog cache reaches the file within a flush.
        #expect(try await eventually(15) {
            try await diff(same, data: setup.agent.data, installed: setup.installed).stdout.contains("4 paths folded")
        })
        let itself = try await diff(same, data: setup.agent.data, installed: setup.installed)
        #expect(itself.status == 0, "\(itself.stdout)\(itself.stderr)")
        #expect(Self.lines(itself, "changes").isEmpty && Self.lines(itself, "skips").isEmpty, "\(itself.stdout)")
        #expect(itself.stdout.contains("4 paths folded: 0 would change, 0 would skip ops, 4 unchanged"))

        let upgrade = try await diff(v2, data: setup.agent.data, installed: setup.installed)
        #expect(upgrade.status == 1, "\(upgrade.stdout)\(upgrade.stderr)")
        #expect(Self.lines(upgrade, "changes") == ["changes  max /b (channel main): 12 → 10", "changes  max /c (channel main): 20 → 10"],
                "\(upgrade.stdout)")
        #expect(Self.lines(upgrade, "skips") == ["skips    max /d (channel main): 1 op (max v2: negative payloads are no longer accepted)"],
                "\(upgrade.stdout)")
        #expect(upgrade.stdout.contains("4 paths folded: 2 would change, 1 would skip ops, 2 unchanged"))
        #expect(upgrade.stdout.contains("max: installed \(setup.installed)/max.so 1.0.0; new \(v2) 2.0.0"), "\(upgrade.stdout)")

        // A long new value is cut to a window around its first difference.
        let wordy = try await diff(try ReducerBuilds.wordyMax(into: setup.candidates), data: setup.agent.data, installed: setup.installed)
        let cut = Self.lines(wordy, "changes").first { $0.hasPrefix("changes  max /a (channel main): ") } ?? ""
        #expect(cut == "changes  max /a (channel main): 7 → \"" + String(repeating: "0", count: 59) + "…", "\(wordy.stdout)")
        #expect(wordy.status == 1 && Self.lines(wordy, "changes").count == 4)

        // The agent still answers as before: nothing was written.
        #expect(try await setup.agent.cli(["get", "main", "max", "/b"]).out == "12")
        let wrongType = try await diff(v2, data: setup.agent.data, installed: setup.installed, ["--type", "counter"])
        #expect(wrongType.status == 2 && wrongType.errorLines.count == 1)
        setup.agent.process.kill9()
        await setup.user.stop()
    }

    @Test func aRefusedLibraryExitsTwo() async throws {
        let setup = try await Self.setUp()
        let source = try ReducerBuilds.maxSource.replacingOccurrences(of: ".abi_version = TEABAG_ABI_VERSION", with: ".abi_version = 999")
        let wrongABI = try ReducerBuilds.build(source, into: setup.candidates, as: "max-abi999.so")
        let refused = try await diff(wrongABI, data: setup.agent.data, installed: setup.installed)
        #expect(refused.status == 2)
        #expect(refused.errorLines.count == 1 && refused.stderr.contains("refused") && refused.stderr.contains("abi_version 999"), "\(refused.stderr)")
        #expect(refused.stdout.isEmpty)
        setup.agent.process.kill9()
        await setup.user.stop()
    }

    @Test func onAStoreServingPushesItReadsWithoutDisturbingIt() async throws {
        let setup = try await Self.setUp()
        let v2 = try ReducerBuilds.clampedMax(into: setup.candidates)
        let store = setup.user.store
        // Every max op reached the store.
        #expect(try await eventually(15) { try await setup.user.client().ops("max", "/d").count == 3 })
        // The store alone from here: an agent would prune the loaded path as it grows.
        setup.agent.process.kill9()

        // Pushes keep arriving while the diff reads.
        let load = Task { () -> [String] in
            var answers: [String] = []
            for index in 0..<150 {
                answers.append(try await setup.user.client().push("counter", "/load", payloadOp(nowMs(), "load\(index)", 1)).text)
            }
            return answers
        }
        var results: [CLIResult] = []
        for _ in 0..<3 { results.append(try await diff(v2, data: store.data, installed: setup.installed)) }
        let answers = try await load.value
        for result in results {
            #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
            #expect(Self.lines(result, "changes") == ["changes  max /b (user 1): 12 → 10", "changes  max /c (user 1): 20 → 10"], "\(result.stdout)")
            #expect(Self.lines(result, "skips") == ["skips    max /d (user 1): 1 op (max v2: negative payloads are no longer accepted)"])
        }
        // The store answered every push and holds every op.
        #expect(answers.count == 150 && answers.allSatisfy { $0 == #"{"ok":true}"# }, "\(answers.filter { $0 != #"{"ok":true}"# })")
        let total = try await setup.user.client().value("counter", "/load")
        #expect(total.json?["value"]?.doubleValue == 150, "\(total.status) \(total.text)")
        #expect(try await setup.user.client().ops("counter", "/load").count == 151)
        #expect(try await setup.user.client().ops("max", "/b").count == 3)
        setup.agent.process.kill9()
        await setup.user.stop()
    }
}
