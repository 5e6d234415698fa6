/// Two table instances over one PostgreSQL database, as behind a load
/// balancer: whichever answers, users, sessions (with their sliding timeout
/// and revocation), mount tables, enrollment and store-token checks agree —
/// at once, with no waiting for a cache to expire.
import Foundation
import Synchronization
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Table: two instances over one PostgreSQL")
struct TwoInstanceTests {
    /// Instance `a` creates user 1; `b` shares its database, key and clock. Both stop when `body` ends.
    static func withPair(clock: ManualClock = ManualClock(), _ body: (TableFixture, TableFixture) async throws -> Void) async throws {
        try await withStarted({ try await TableFixture.start(.postgres, clock: clock) }) { a in
            try await withStarted({ try await TableFixture.start(.postgres, database: a.database, clock: clock, createUser: false) }) { b in
                try await body(a, b)
            }
        }
    }

    @Test("a session opened on one is checked on the other; revoked on either, refused by both at once")
    func revocation() async throws {
        try await Self.withPair { a, b in
            let first = try await a.newSession(description: "laptop")
            let second = try await b.newSession(description: "phone")
            #expect(try await b.get("user/1/session/check/\(first)").isOK)
            #expect(try await a.get("user/1/session/check/\(second)").isOK)
            for t in [a, b] {
                #expect(try await t.get("user/1/session/all?master=secret").json?.arrayValue?.compactMap { $0["description"]?.stringValue } == ["laptop", "phone"])
            }
            // Both instances have the token verified and cached; the revoke on `b` must still win on `a` with no delay.
            #expect(try await b.delete("user/1/session/\(first)").isOK)
            let refused = try await a.get("user/1/session/check/\(first)")
            #expect(refused.status == 403)
            #expect(refused.errorName == "UtilityError:InvalidSessionToken")
            #expect(try await a.get("user/1/table", headers: [HTTP.bearer(first)]).status == 403)
            #expect(try await a.get("user/1/session/check/\(second)").isOK)
        }
    }

    @Test("the sliding timeout slides on whichever instance is asked")
    func slidingAcrossInstances() async throws {
        let clock = ManualClock()
        try await Self.withPair(clock: clock) { a, b in
            let token = try await a.newSession(timeout: 1_000)
            for step in 0..<6 {
                clock.advance(ms: 900)
                #expect(try await (step.isMultiple(of: 2) ? b : a).get("user/1/session/check/\(token)").isOK, "step \(step)")
            }
            clock.advance(ms: 1_001)
            #expect(try await a.get("user/1/session/check/\(token)").status == 403)
            #expect(try await b.get("user/1/session/check/\(token)").status == 403)
        }
    }

    @Test("a new master set on one instance locks the old master and its sessions out of the other")
    func newMaster() async throws {
        try await Self.withPair { a, b in
            let token = try await a.newSession()
            #expect(try await b.get("user/1/session/all?master=secret").status == 200)  // b has verified the old master
            #expect(try await a.admin(.PUT, "admin/user/1/master/other").isOK)
            #expect(try await b.get("user/1/session/all?master=secret").status == 401)
            #expect(try await b.get("user/1/session/check/\(token)").status == 403)
            #expect(try await b.get("user/1/session/all?master=other").json == [])
            #expect(try await b.admin(.PUT, "admin/user/9/master/nine").isOK)
            #expect(try await a.get("user/9/session/new?master=nine&timeout=5000").status == 200)
        }
    }

    @Test("enrollment on one instance, store tokens from the other, removal on either: the checks agree")
    func mountTables() async throws {
        try await Self.withPair { a, b in
            try await withStarted({ try await TestStore(.accept) }) { store in
                let session = try await a.newSession()
                // `b` caches nothing about user 1's stores yet… then learns there are none.
                #expect(try await b.get("user/1/table?master=secret").json == [:])
                #expect(try await a.enroll(channel: "main", store: store).status == 200)
                let storeID = Digest.sha256Hex(Array(store.userURL(1).utf8))
                let storeToken = try #require(try await b.get("user/1/table?session_token=\(session)").json?["main"]?[storeID]?["store_token"]?.stringValue)
                #expect(try await a.get("user/1/table/check/\(storeToken)").isOK)
                #expect(try await b.get("user/1/table/check/\(storeToken)").isOK)
                #expect(try await b.delete("user/1/table/main/store/\(storeID)?master=secret").isOK)
                #expect(try await a.get("user/1/table/check/\(storeToken)").status == 403)
                #expect(try await a.get("user/1/table?master=secret").json == [:])
            }
        }
    }

    @Test("sessions opened on both instances at once, in one millisecond, are all distinct")
    func concurrentSessions() async throws {
        try await Self.withPair { a, b in
            let answers = try await CreationLoadTests.load(clients: 16, requests: 320) { i in
                try await (i.isMultiple(of: 2) ? a : b).get("user/1/session/new?master=secret&timeout=60000")
            }
            CreationLoadTests.expectNo5xx(answers, "session/new on two instances")
            let tokens = Set(answers.compactMap { $0.json?["session_token"]?.stringValue })
            #expect(tokens.count == 320)
            #expect(try await b.get("user/1/session/all?master=secret").json?.arrayValue?.count == 320)
        }
    }
}

@Suite("teabag table (processes) over one PostgreSQL")
struct TwoTableProcessesTests {
    @Test("two processes share users and sessions; one SIGKILLed, the other serves on; the password is never logged")
    func twoProcesses() async throws {
        let cluster = try await PostgresCluster.shared()
        // Trust authentication ignores the password; it is there to prove it never reaches a log.
        let database = try cluster.createDatabase().replacingOccurrences(of: "postgres@", with: "postgres:hunter2-never-logged@")
        let data = try temporaryDirectory("table-pg")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let environment = ["TEABAG_TABLE_DATABASE": database, "TEABAG_TABLE_KEY": testTableKey]
        let a = try TeaBagProcess(["table", "--port", "0", "--data", data + "/a"], directory: data, environment: environment)
        defer { a.kill9() }
        let b = try TeaBagProcess(["table", "--port", "0", "--data", data + "/b"], directory: data, environment: environment)
        defer { b.kill9() }
        let urlA = try #require(try await a.waitUntilListening("table"), "\(a.stderr)") + "/"
        let urlB = try #require(try await b.waitUntilListening("table"), "\(b.stderr)") + "/"

        try await Enrollment.createUser(tableURL: urlA)
        let session = try await Enrollment.session(tableURL: urlB)
        #expect(try await HTTP.get(urlA + "user/1/session/check/\(session)").isOK)
        #expect(try await HTTP.request(.DELETE, urlA + "user/1/session/\(session)").isOK)
        #expect(try await HTTP.get(urlB + "user/1/session/check/\(session)").status == 403)

        let survivor = try await Enrollment.session(tableURL: urlA)
        a.kill9()
        #expect(try await HTTP.get(urlB + "user/1/session/check/\(survivor)").isOK)
        #expect(try await HTTP.get(urlB + "user/1/session/all?master=secret").json?.arrayValue?.count == 1)
        for output in [a.stderr, b.stderr] { #expect(!output.contains("hunter2"), "\(output)") }
    }

    @Test("one of two processes SIGKILLed under 8 clients opening and checking sessions: every session acknowledged lives on in the other, no 5xx")
    func killUnderLoad() async throws {
        let cluster = try await PostgresCluster.shared()
        let database = try cluster.createDatabase()
        let data = try temporaryDirectory("table-pg-kill")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let environment = ["TEABAG_TABLE_DATABASE": database, "TEABAG_TABLE_KEY": testTableKey]
        let a = try TeaBagProcess(["table", "--port", "0", "--data", data + "/a"], directory: data, environment: environment)
        defer { a.kill9() }
        let b = try TeaBagProcess(["table", "--port", "0", "--data", data + "/b"], directory: data, environment: environment)
        defer { b.kill9() }
        let urls = [try #require(try await a.waitUntilListening("table")) + "/", try #require(try await b.waitUntilListening("table")) + "/"]
        try await Enrollment.createUser(tableURL: urls[0])

        let balancer = Balancer(urls)
        @Sendable func ask(_ path: String, first: Int) async throws -> HTTPAnswer { try await balancer.get(path, first: first) }
        let results = try await withThrowingTaskGroup(of: (tokens: [String], statuses: [Int]).self) { group in
            for client in 0..<8 {
                group.addTask {
                    var tokens: [String] = [], statuses: [Int] = []
                    for i in 0..<40 {
                        if client == 0 && i == 10 { a.kill9() }
                        let opened = try await ask("user/1/session/new?master=secret&timeout=600000", first: (client + i) % 2)
                        statuses.append(opened.status)
                        guard let token = opened.json?["session_token"]?.stringValue else { continue }
                        tokens.append(token)
                        statuses.append(try await ask("user/1/session/check/\(token)", first: (client + i + 1) % 2).status)
                    }
                    return (tokens, statuses)
                }
            }
            return try await group.reduce(into: (tokens: [String](), statuses: [Int]())) { $0.tokens += $1.tokens; $0.statuses += $1.statuses }
        }
        #expect(!a.isRunning)
        #expect(results.statuses.allSatisfy { $0 == 200 }, "\(Dictionary(grouping: results.statuses, by: { $0 }).mapValues(\.count))")
        #expect(Set(results.tokens).count == 320)
        for token in results.tokens { #expect(try await HTTP.get(urls[1] + "user/1/session/check/\(token)").isOK) }
        // A session opened by the killed instance whose answer was lost may be there too: never fewer.
        let listed = try #require(try await HTTP.get(urls[1] + "user/1/session/all?master=secret").json?.arrayValue)
        let kept = Set(listed.compactMap { $0["session_token"]?.stringValue })
        #expect(kept.isSuperset(of: results.tokens))
    }
}

/// As a load balancer in front of two instances: an instance that failed to
/// answer is taken out, and the request goes to the other.
final class Balancer: Sendable {
    let urls: [String]
    private let down = Mutex<Set<Int>>([])

    init(_ urls: [String]) { self.urls = urls }

    func get(_ path: String, first: Int) async throws -> HTTPAnswer {
        if !down.withLock({ $0.contains(first) }) {
            do { return try await HTTP.request(.GET, urls[first] + path, timeout: .seconds(2)) } catch { down.withLock { _ = $0.insert(first) } }
        }
        do {
            return try await HTTP.get(urls[1 - first] + path)
        } catch {
            // The first was only slow (a loaded machine), and the other is the one killed: back to the first.
            down.withLock { _ = $0.remove(first) }
            return try await HTTP.get(urls[first] + path)
        }
    }
}
