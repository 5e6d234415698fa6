import Foundation
import Testing
import TeaBagTestSupport

/// The walk-throughs under examples/ run as a newcomer runs them, from the
/// repository root, against the built `teabag` (docs/architecture.md).
@Suite struct ExamplesTests {
    @Test(.timeLimit(.minutes(1)))
    func twoDevicesWalkThroughSyncsBothWaysAndStopsWhatItStarted() async throws {
        let data = try temporaryDirectory("2dev")
        let run = try await runScript("examples/two-devices.sh", [data])
        #expect(run.status == 0, "stdout:\n\(run.stdout)\nstderr:\n\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("    device 2 reads 1"))
        #expect(lines.contains("    device 1 reads 42"))
        #expect(lines.last == "converged: both devices read main counter /hits = 42")
        // Device 2 names Plugins twice (--plugins Plugins on top of the
        // default): each library is still loaded once, none refused.
        // (`teabag status` lists each refused library as a `refused   ` line.)
        #expect(run.stdout.contains("reducers  counter, log, merge, register, set, stats") && !run.stdout.contains("\nrefused   "))

        // Both devices were stopped on the way out: their sockets answer no more.
        for socket in ["\(data)/agent/agent.sock", "\(data)/device2/agent.sock"] {
            #expect(try await teabag(["status", "--agent", socket], seconds: 10).status == 1)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func reducerCWalkThroughHotLoadsMaxIntoARunningDevWithoutARestart() async throws {
        let data = try temporaryDirectory("devmax")
        let plugins = try temporaryDirectory("plugins")
        // Run from an empty directory, so that only `plugins` is a plugin
        // directory (not the repository's Plugins/, which may hold a max.so).
        let dev = try TeaBagProcess(["dev", "--data", data, "--port", "0", "--plugins", plugins], directory: try temporaryDirectory("cwd"))
        defer { dev.kill9() }
        let line = try #require(try await dev.waitUntilListening("agent"), "dev did not start: \(dev.stderr)")
        let socket = String(line.dropFirst("unix:".count))
        #expect(try await teabag(["get", "--agent", socket, "main", "max", "/best"]).errorLines.first?.contains("max") == true,
                "before the build, no reducer serves max")

        let run = try await runScript("examples/reducer-c/try.sh", ["--plugins", plugins, "--agent", socket])
        #expect(run.status == 0, "stdout:\n\(run.stdout)\nstderr:\n\(run.stderr)")
        #expect(run.stdout.split(separator: "\n").last == "best = 5")
        #expect(run.stdout.contains("max: payload must be a finite number"))
        #expect(FileManager.default.fileExists(atPath: "\(plugins)/max.so"))

        // The same process served it all, and answers 5 to the CLI too.
        #expect(dev.isRunning)
        #expect(try await teabag(["get", "--agent", socket, "main", "max", "/best"]).out == "5")
        dev.signal(SIGTERM)
        #expect(try await dev.waitForExit(seconds: 5) == 0)
    }

    @Test(.timeLimit(.minutes(1)))
    func bookmarksExampleSyncsBetweenTwoDataDirectoriesAndKeepsAnOfflineAdd() async throws {
        let data = try temporaryDirectory("devbm")
        let dev = try TeaBagProcess(["dev", "--data", data, "--port", "0"], directory: Repository.root)
        defer { dev.kill9() }
        _ = try #require(try await dev.waitUntilListening("agent"), "dev did not start: \(dev.stderr)")
        func bookmarks(_ device: String, _ arguments: String...) async throws -> CLIResult {
            try await runProgram("\(Repository.root)/.build/debug/teabag-example-bookmarks",
                                 ["--dev", data, "--data", "\(data)/\(device)"] + arguments, seconds: 15)
        }
        #expect(try await bookmarks("laptop", "add", "https://swift.org").out == "https://swift.org")
        #expect(try await bookmarks("laptop", "add", "https://www.sqlite.org").out == "https://swift.org\nhttps://www.sqlite.org")
        #expect(try await bookmarks("phone", "remove", "https://swift.org").out == "https://www.sqlite.org")
        #expect(try await bookmarks("laptop", "list").out == "https://www.sqlite.org")
        let bad = try await bookmarks("phone", "frobnicate")
        #expect(bad.status == 1 && bad.stderr.contains("usage:"))

        // Offline: the add is answered at once and waits in the laptop's outbox…
        dev.signal(SIGTERM)
        #expect(try await dev.waitForExit(seconds: 5) == 0)
        let offline = try await bookmarks("laptop", "add", "https://example.org")
        #expect(offline.status == 0)
        #expect(offline.stdout.contains("offline"))
        #expect(offline.stdout.hasSuffix("https://example.org\nhttps://www.sqlite.org\n"))
        // …until a later run reaches the stores and sends it.
        let again = try TeaBagProcess(["dev", "--data", data], directory: Repository.root)
        defer { again.kill9() }
        _ = try #require(try await again.waitUntilListening("agent"), "dev did not resume: \(again.stderr)")
        #expect(try await bookmarks("laptop", "list").out == "https://example.org\nhttps://www.sqlite.org")
        #expect(try await bookmarks("phone", "list").out == "https://example.org\nhttps://www.sqlite.org")
        again.signal(SIGTERM)
        #expect(try await again.waitForExit(seconds: 5) == 0)
    }
}

/// What docs/deploy.md promises the systemd units.
@Suite struct DeployDocTests {
    @Test(.timeLimit(.minutes(1)))
    func everyRoleSurvivesSIGHUPAndExitsZeroOnSIGTERM() async throws {
        let config = try temporaryDirectory("conf")
        let roles: [(String, [String])] = [
            ("table", ["table", "--config", config, "--port", "0", "--data", try temporaryDirectory("table")]),
            ("store", ["store", "--config", config, "--port", "0", "--data", try temporaryDirectory("store")]),
            // No table answers there: the agent starts anyway and keeps trying.
            ("agent", ["agent", "--config", config, "--table-url", "http://127.0.0.1:9/", "--user", "1", "--master", "m",
                       "--data", try temporaryDirectory("agent")]),
        ]
        for (role, arguments) in roles {
            let process = try TeaBagProcess(arguments, directory: Repository.root)
            defer { process.kill9() }
            #expect(try await process.waitUntilListening(role) != nil, "\(role) did not start: \(process.stderr)")
            process.signal(SIGHUP)  // systemctl reload
            try await Task.sleep(for: .milliseconds(300))
            #expect(process.isRunning, "\(role) ended on SIGHUP")
            process.signal(SIGTERM)
            #expect(try await process.waitForExit(seconds: 5) == 0, "\(role)")
        }
    }
}

/// `bash script arguments…` in the repository root with TEABAG set to the
/// built binary. Past `seconds` it is sent SIGTERM (the scripts stop what
/// they started on the way out) and the result has a nil status.
private func runScript(_ script: String, _ arguments: [String], seconds: Double = 30) async throws -> CLIResult {
    try await runProgram("/bin/bash", [script] + arguments, seconds: seconds)
}

/// `executable arguments…` in the repository root, to its end (see `runScript`).
private func runProgram(_ executable: String, _ arguments: [String], seconds: Double) async throws -> CLIResult {
    let logs = try temporaryDirectory("script")
    let out = "\(logs)/stdout", err = "\(logs)/stderr"
    FileManager.default.createFile(atPath: out, contents: nil)
    FileManager.default.createFile(atPath: err, contents: nil)
    let process = try ChildProcess(executable, arguments, directory: Repository.root,
                                   environment: ProcessInfo.processInfo.environment.merging(["TEABAG": Repository.teabag]) { _, new in new },
                                   stdout: .file(out), stderr: .file(err))
    let status = try await process.waitForExit(seconds: seconds)
    if status == nil {
        process.signal(SIGTERM)
        if try await process.waitForExit(seconds: 5) == nil { process.signal(SIGKILL) }
        process.waitUntilExit()
    }
    func text(_ path: String) -> String { String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }
    return CLIResult(status: status, stdout: text(out), stderr: text(err))
}
