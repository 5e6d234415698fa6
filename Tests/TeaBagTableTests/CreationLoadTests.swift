/// Issue 14 item 8: every route that creates something, under 8–16
/// concurrent clients, answers each request with its own new thing and never
/// a 5xx — on both backends. The table's clock stands still, so every
/// session of the load falls in one millisecond (the case that used to give
/// two sessions one token and 500 `UNIQUE constraint failed`).
import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Table: creating routes under concurrent clients")
struct CreationLoadTests {
    /// Runs `requests` calls of `body` spread over `clients` concurrent clients; the answers.
    static func load(clients: Int, requests: Int, _ body: @escaping @Sendable (Int) async throws -> HTTPAnswer) async throws -> [HTTPAnswer] {
        try await withThrowingTaskGroup(of: [HTTPAnswer].self) { group in
            for client in 0..<clients {
                group.addTask {
                    var answers: [HTTPAnswer] = []
                    for i in stride(from: client, to: requests, by: clients) { answers.append(try await body(i)) }
                    return answers
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
    }

    static func expectNo5xx(_ answers: [HTTPAnswer], _ what: String) {
        let failures = answers.filter { $0.status >= 500 }
        #expect(failures.isEmpty, "\(what): \(failures.count) of \(answers.count) answered 5xx, e.g. \(failures.first.map { "\($0.status) \($0.text)" } ?? "")")
        #expect(answers.allSatisfy { $0.status == 200 }, "\(what): \(Set(answers.map(\.status)))")
    }

    @Test("16 clients opening 640 sessions of one user in one millisecond get 640 sessions", arguments: TableBackend.allCases)
    func sessionsInOneMillisecond(backend: TableBackend) async throws {
        let clock = ManualClock()
        try await withStarted({ try await TableFixture.start(backend, clock: clock) }) { t in
            let answers = try await Self.load(clients: 16, requests: 640) { i in
                try await t.get("user/1/session/new?master=secret&timeout=60000&description=d\(i)")
            }
            Self.expectNo5xx(answers, "session/new")
            let tokens = Set(answers.compactMap { $0.json?["session_token"]?.stringValue })
            #expect(tokens.count == 640)
            let listed = try #require(try await t.get("user/1/session/all?master=secret").json?.arrayValue)
            #expect(Set(listed.compactMap { $0["session_token"]?.stringValue }) == tokens)
            #expect(Set(listed.compactMap { $0["description"]?.stringValue }).count == 640)
            for token in tokens.prefix(20) { #expect(try await t.get("user/1/session/check/\(token)").isOK) }
        }
    }

    @Test("16 clients creating users and setting masters: every one lands", arguments: TableBackend.allCases)
    func users(backend: TableBackend) async throws {
        try await withStarted({ try await TableFixture.start(backend) }) { t in
            let created = try await Self.load(clients: 16, requests: 64) { i in try await t.admin(.PUT, "admin/user/\(100 + i)/master/m\(i)") }
            Self.expectNo5xx(created, "new users")
            let same = try await Self.load(clients: 16, requests: 32) { i in try await t.admin(.PUT, "admin/user/2/master/m\(i % 2)") }
            Self.expectNo5xx(same, "one user's master")
            for i in [0, 31, 63] { #expect(try await t.get("user/\(100 + i)/session/new?master=m\(i)&timeout=5000").status == 200) }
        }
    }

    @Test("8 clients enrolling stores in 40 channels of one user: all land", arguments: TableBackend.allCases)
    func enrollment(backend: TableBackend) async throws {
        try await withStarted({ try await TableFixture.start(backend) }) { t in
            try await withStarted(all: [{ try await TestStore(.accept) }, { try await TestStore(.accept) }]) { stores in
                let enrolled = try await Self.load(clients: 8, requests: 40) { i in
                    try await t.enroll(channel: "c\(i / 2)", store: stores[i % 2])
                }
                Self.expectNo5xx(enrolled, "enrollment")
                let table = try #require(try await t.get("user/1/table?master=secret").json?.objectValue)
                #expect(table.count == 20)
                #expect(table.values.allSatisfy { $0.objectValue?.count == 2 })
            }
        }
    }

    @Test("16 clients taking enrollment codes from a real store and enrolling with them: no 5xx", arguments: TableBackend.allCases)
    func enrollmentWithRealStore(backend: TableBackend) async throws {
        try await withStarted({ try await TableFixture.start(backend) }) { t in
            let storeData = try temporaryDirectory("store")
            defer { try? FileManager.default.removeItem(atPath: storeData) }
            try await withStore(data: storeData) { store in
                let admin = [HTTP.basic("admin", store.key)]
                #expect(try await HTTP.request(.PUT, store.url + "admin/user/1", headers: admin).isOK)

                let codes = try await Self.load(clients: 16, requests: 64) { _ in try await HTTP.get(store.url + "admin/user/1/code", headers: admin) }
                Self.expectNo5xx(codes, "store codes")
                // Codes asked for in one millisecond differ too (each is single use).
                #expect(Set(codes.compactMap { $0["code"] }).count == 64)
                let enrolled = try await Self.load(clients: 8, requests: 24) { i in
                    let code = try await HTTP.get(store.url + "admin/user/1/code", headers: admin)["code"] ?? ""
                    return try await Enrollment.post(tableURL: t.url, storeUserURL: store.userURL(1), code: code, channel: "c\(i)")
                }
                #expect(enrolled.allSatisfy { $0.status < 500 }, "\(enrolled.filter { $0.status >= 500 }.map(\.text))")
                #expect(try await t.get("user/1/table?master=secret").json?.objectValue?.count == enrolled.filter { $0.status == 200 }.count)
            }
        }
    }
}

extension HTTPAnswer {
    fileprivate subscript(key: String) -> String? { json?[key]?.stringValue }
}
