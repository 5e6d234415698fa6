import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

/// A `teabag store` process on port 0 with the shipped plugins, run from `directory` (so that no conf.d of the repository applies).
func storeProcess(directory: String, data: String, extra: [String] = []) throws -> TeaBagProcess {
    try TeaBagProcess(["store", "--port", "0", "--data", data, "--key", testStoreKey, "--plugins", Repository.plugins] + extra,
                      directory: directory)
}

@Suite("teabag store (process)")
struct StoreProcessTests {
    @Test("durability: 8 concurrent writers, SIGKILL mid-load, restart on the same directory: every acknowledged op is there",
          arguments: ["full", "normal"])
    func durability(setting: String) async throws {
        let directory = try temporaryDirectory("store-kill")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // store.durability through conf.d in the process's working directory.
        try FileManager.default.createDirectory(atPath: directory + "/conf.d", withIntermediateDirectories: true)
        try "store:\n  durability: \(setting)\n".write(toFile: directory + "/conf.d/10-store.yaml", atomically: true, encoding: .utf8)
        let table = try await startTable(data: directory + "/table")
        defer { Task { await table.stop() } }
        try await Enrollment.createUser(tableURL: table.url)

        let first = try storeProcess(directory: directory, data: directory + "/store")
        defer { first.kill9() }
        let firstURL = try #require(try await first.waitUntilListening("store"), "\(first.stderr)") + "/"
        try await Enrollment.enroll(tableURL: table.url, storeURL: firstURL)
        let session = try await Enrollment.session(tableURL: table.url)
        let token = try await Enrollment.storeToken(tableURL: table.url, session: session, storeUserURL: firstURL + "user/1/")
        let client = {
            var client = StoreClient(userURL: firstURL + "user/1/", token: token)
            client.timeout = .seconds(3)
            return client
        }()
        #expect(try await client.oplog("counter", "/w0").status == 200)  // the token is checked and cached

        let writers = 8
        let killed = Locked(false)
        let acked = Locked<[Int: [String]]>([:])
        let refused = Locked<[String]>([])
        let start = nowMs()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<writers {
                group.addTask {
                    var i = 0
                    while !killed.current {
                        i += 1
                        let sha = "w\(w)-\(i)"
                        let answer: HTTPAnswer
                        do {
                            answer = try await client.push("counter", "/w\(w)", payloadOp(start + Int64(i), sha, 1))
                        } catch {
                            continue  // not acknowledged; after the kill, the loop ends
                        }
                        if answer.isAccepted {
                            acked.withLock { $0[w, default: []].append(sha) }
                        } else {
                            refused.withLock { $0.append("\(sha): \(answer.status) \(answer.text)") }
                        }
                    }
                }
            }
            group.addTask {
                // Kill mid-load once enough is acknowledged to mean something
                // (at least 1.5 s; longer on a machine busy with other suites).
                try await Task.sleep(for: .milliseconds(1_500))
                _ = try await eventually(15) { acked.withLock { $0.values.reduce(0) { $0 + $1.count } } >= writers * 20 }
                first.signal(SIGKILL)
                killed.withLock { $0 = true }
            }
            try await group.waitForAll()
        }
        first.kill9()
        #expect(refused.withLock { $0 }.isEmpty, "\(refused.withLock { $0.prefix(5) })")

        let second = try storeProcess(directory: directory, data: directory + "/store")
        defer { second.kill9() }
        let secondURL = try #require(try await second.waitUntilListening("store"), "\(second.stderr)") + "/"
        let after = StoreClient(userURL: secondURL + "user/1/", token: token)
        var ackedCount = 0
        var lost = 0
        var stored = 0
        for w in 0..<writers {
            let ackedShas = acked.withLock { $0[w] ?? [] }
            ackedCount += ackedShas.count
            let ops = try await after.ops("counter", "/w\(w)")
            let held = Set(shas(ops))
            stored += ops.count - 1
            lost += ackedShas.filter { !held.contains($0) }.count
            // The materialized value agrees with the oplog after the crash.
            #expect(try await after.value("counter", "/w\(w)").json?["value"] == .number(Double(ops.count - 1)))
        }
        print("durability (\(setting)): acked=\(ackedCount) lost=\(lost) stored=\(stored)")
        #expect(ackedCount >= writers * 10, "too little load to mean anything: \(ackedCount)")
        #expect(lost == 0)
        // The log of accepted ops (SSE resume) survived with them.
        let sse = try await after.events(lastEventID: "0")
        defer { sse.close() }
        #expect(try await sse.next(stored, within: 10).count == stored)
    }

    @Test("SIGTERM: the store exits 0 within 5 s")
    func sigterm() async throws {
        let directory = try temporaryDirectory("store-term")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try storeProcess(directory: directory, data: directory + "/store")
        defer { store.kill9() }
        let url = try #require(try await store.waitUntilListening("store"), "\(store.stderr)")
        #expect(url.hasPrefix("http://127.0.0.1:"))
        #expect(try await HTTP.get(url + "/healthz").isOK)
        #expect(try await HTTP.request(.PUT, url + "/admin/user/1", headers: [HTTP.basic("admin", testStoreKey)]).isOK)
        store.signal(SIGTERM)
        #expect(try await store.waitForExit(seconds: 5) == 0, "\(store.stderr)")  // nil past 5 s (docs/cli.md)
    }

    @Test("SIGTERM with a client listening (SSE, or a long poll parked for 8 s): still exit 0 within 5 s", arguments: ["sse", "long poll"])
    func sigtermWithListener(kind: String) async throws {
        let directory = try temporaryDirectory("store-term")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/conf.d", withIntermediateDirectories: true)
        try "store:\n  long_poll_delay: 8s\n".write(toFile: directory + "/conf.d/10-store.yaml", atomically: true, encoding: .utf8)
        let table = try await startTable(data: directory + "/table")
        defer { Task { await table.stop() } }
        try await Enrollment.createUser(tableURL: table.url)
        let store = try storeProcess(directory: directory, data: directory + "/store")
        defer { store.kill9() }
        let url = try #require(try await store.waitUntilListening("store"), "\(store.stderr)") + "/"
        try await Enrollment.enroll(tableURL: table.url, storeURL: url)
        let session = try await Enrollment.session(tableURL: table.url)
        let token = try await Enrollment.storeToken(tableURL: table.url, session: session, storeUserURL: url + "user/1/")
        let client = StoreClient(userURL: url + "user/1/", token: token)
        var sse: SSEConnection? = nil
        var poll: Task<HTTPAnswer?, Never>? = nil
        if kind == "sse" {
            sse = try await client.events()
            #expect(try await sse!.waitUntilOpen())
        } else {
            poll = Task { try? await client.poll() }
            try await Task.sleep(for: .milliseconds(100))
        }
        defer { sse?.close(); poll?.cancel() }
        try await Task.sleep(for: .milliseconds(200))
        store.signal(SIGTERM)
        #expect(try await store.waitForExit(seconds: 5) == 0, "\(store.stderr)")  // nil past 5 s (docs/cli.md)
        if let poll {
            // The parked poll was answered (an empty stream) rather than cut off.
            let answer = await poll.value
            #expect(answer?.status == 200)
        }
    }

    @Test("a bad conf.d key stops the start: exit 2, one line naming the file and the key", arguments: [
        ("store:\n  prot: 4001\n", "store.prot"),
        ("store:\n  durability: sometimes\n", "store.durability"),
        ("store:\n  unknown_types: maybe\n", "store.unknown_types"),
        ("store:\n  long_poll_delay: soon\n", "store.long_poll_delay"),
    ])
    func badConfiguration(yaml: String, key: String) async throws {
        let directory = try temporaryDirectory("store-conf")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/conf.d", withIntermediateDirectories: true)
        try yaml.write(toFile: directory + "/conf.d/10-store.yaml", atomically: true, encoding: .utf8)
        let store = try TeaBagProcess(["store", "--port", "0", "--data", directory + "/data"], directory: directory)
        defer { store.kill9() }
        #expect(try await store.waitForExit() == 2)
        let lines = store.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(store.stderr)")
        #expect(store.stderr.contains("10-store.yaml"), "\(store.stderr)")
        #expect(store.stderr.contains(key), "\(store.stderr)")
        #expect(!store.stdout.contains("listening"))
    }
}
