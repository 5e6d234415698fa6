import Foundation
import Testing
import TeaBagCore
import TeaBagStore
import TeaBagTestSupport

/// The agent, the CLI and `teabag dev` as real processes (issue 6).
@Suite struct AgentProcessTests {
    @Test func devStartsPushThenGetAnswersAndASecondRunResumes() async throws {
        let data = try temporaryDirectory("dev")
        let dev = try TeaBagProcess(["dev", "--data", data, "--port", "0"], directory: Repository.root)
        let line = try #require(try await dev.waitUntilListening("agent"), "dev did not start: \(dev.stderr)")
        let socket = String(line.dropFirst("unix:".count))
        #expect(try await teabag(["push", "--agent", socket, "main", "counter", "/hits", "1"]).out == "1")
        #expect(try await teabag(["get", "--agent", socket, "main", "counter", "/hits"]).out == "1")

        // The local API is the user's alone.
        let mode = try FileManager.default.attributesOfItem(atPath: socket)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        dev.signal(SIGTERM)
        #expect(try await dev.waitForExit(seconds: 5) == 0)
        let again = try TeaBagProcess(["dev", "--data", data], directory: Repository.root)
        #expect(try await again.waitUntilListening("agent") == line)
        #expect(try await teabag(["get", "--agent", socket, "main", "counter", "/hits"]).out == "1")
        #expect(try await teabag(["push", "--agent", socket, "main", "counter", "/hits", "2"]).out == "3")
        again.signal(SIGTERM)
        #expect(try await again.waitForExit(seconds: 5) == 0)
    }

    @Test func twoAgentsOnOneChannelConvergeThroughBothStores() async throws {
        try await withEnrolledUser(stores: 2) { user in
            let a = try await AgentProcess.start(user)
            defer { a.process.kill9() }
            let b = try await AgentProcess.start(user)
            defer { b.process.kill9() }
            for _ in 0..<3 { #expect(try await a.cli(["push", "main", "counter", "/n", "1"]).status == 0) }
            #expect(try await b.eventuallyGets("3", "main", "counter", "/n"))
            #expect(try await b.cli(["push", "main", "counter", "/n", "2"]).out == "5")
            #expect(try await a.eventuallyGets("5", "main", "counter", "/n"))
            #expect(try await eventually(10) {
                let zero = try await payloadShas(user, 0, "counter", "/n")
                let one = try await payloadShas(user, 1, "counter", "/n")
                return zero.count == 4 && zero == one
            })
        }
    }

    @Test func anAgentKilledWithAFullOutboxDeliversEverythingAfterRestartNoneLostNoneDoubled() async throws {
        try await withEnrolledUser(stores: 2) { user in
            let agent = try await AgentProcess.start(user)
            defer { agent.process.kill9() }
            #expect(try await agent.cli(["push", "main", "counter", "/k", "1"]).out == "1")
            #expect(try await eventually(10) { try await payloadShas(user, 1, "counter", "/k").count == 1 })

            let ports = user.stores.map { URL(string: $0.url)!.port! }
            for store in user.stores { await store.stop() }
            for expected in 2...6 { #expect(try await agent.cli(["push", "main", "counter", "/k", "1"]).out == "\(expected)") }
            agent.process.kill9()

            // Back with every store still down: reads are answered at once, from disk.
            let restarted = try await AgentProcess.start(user, data: agent.data)
            defer { restarted.process.kill9() }
            #expect(try await restarted.cli(["get", "main", "counter", "/k"]).out == "6")
            let status = try await restarted.cli(["status", "--json"])
            let outboxes = (try JSON.parse(status.out))["channels"]?["main"]?["stores"]?.arrayValue?.compactMap { $0["outbox"]?.int64Value }
            #expect(outboxes == [5, 5])

            let starts: [() async throws -> RunningStore] = zip(user.stores, ports).map { store, port in
                { try await startStore(data: store.data, configure: { $0.port = port }) }
            }
            try await withStarted(all: starts) { _ in
                #expect(try await eventually(15) {
                    let zero = try await payloadShas(user, 0, "counter", "/k")
                    let one = try await payloadShas(user, 1, "counter", "/k")
                    return zero.count == 6 && one.count == 6
                })
                for index in 0..<2 {
                    let shas = try await payloadShas(user, index, "counter", "/k")
                    #expect(Set(shas).count == 6, "store \(index) holds an op twice: \(shas)")
                    #expect(try await user.client(index).value("counter", "/k").json?["value"] == 6)
                }
            }
        }
    }

    @Test func aReducerCopiedIntoRunningPluginDirectoriesServesItsTypeWithoutARestart() async throws {
        let plugins = try temporaryDirectory("plugins")
        try await withEnrolledUser(stores: 1, configureStore: {
            $0.pluginDirectories = [Repository.plugins, plugins]
            $0.pluginPollMs = 100
        }) { user in
            let agent = try await AgentProcess.start(user, plugins: [plugins])
            defer { agent.process.kill9() }
            let before = try await agent.cli(["push", "main", "max", "/best", "5"])
            #expect(before.status == 1)
            #expect(before.errorLines.count == 1 && before.stderr.contains("StoreError:TypeNotRegistered"))

            let built = try shell("cc -shared -fPIC -O2 -I Plugins/include examples/reducer-c/max.c -o \(plugins)/.max.tmp && mv \(plugins)/.max.tmp \(plugins)/max.so")
            #expect(built == 0)
            #expect(try await eventually(10) { try await agent.cli(["push", "main", "max", "/best", "5"]).status == 0 })
            #expect(try await agent.cli(["push", "main", "max", "/best", "3"]).out == "5")
            #expect(try await agent.cli(["get", "main", "max", "/best"]).out == "5")
            // The store validates and folds the new type too.
            #expect(try await eventually(10) { try await user.client(0).value("max", "/best").json?["value"] == 5 })
            let refused = try await agent.cli(["push", "main", "max", "/best", "\"five\""])
            #expect(refused.status == 1 && refused.stderr.contains("StoreError:InvalidOp"))
        }
    }

    @Test func everyCLIErrorIsOneClearLineWithStatusOneOrTwo() async throws {
        let nowhere = try temporaryDirectory("none") + "/agent.sock"
        let notRunning = try await teabag(["get", "--agent", nowhere, "main", "counter", "/x"])
        #expect(notRunning.status == 1)
        #expect(notRunning.errorLines.count == 1 && notRunning.stderr.contains("no agent answers") && notRunning.stderr.contains("teabag dev"))

        try await withEnrolledUser(stores: 1) { user in
            let agent = try await AgentProcess.start(user)
            defer { agent.process.kill9() }
            let unknownChannel = try await agent.cli(["get", "nope", "counter", "/x"])
            #expect(unknownChannel.status == 1)
            #expect(unknownChannel.errorLines.count == 1 && unknownChannel.stderr.contains("TableError:UnknownChannel"))

            let badJSON = try await agent.cli(["push", "main", "counter", "/x", "{oops"])
            #expect(badJSON.status == 2)
            #expect(badJSON.errorLines.count == 1 && badJSON.stderr.contains("not JSON"))

            let unknownType = try await agent.cli(["push", "main", "no-such-type", "/x", "1"])
            #expect(unknownType.status == 1)
            #expect(unknownType.errorLines.count == 1 && unknownType.stderr.contains("StoreError:TypeNotRegistered"))

            let badPath = try await agent.cli(["get", "main", "counter", "/../.."])
            #expect(badPath.status == 1 && badPath.errorLines.count == 1)

            let missing = try await teabag(["push", "--agent", agent.socket, "main", "counter"])
            #expect(missing.status == 2)
        }
    }
}
