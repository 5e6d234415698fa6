import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Table: mount table, enrollment and store tokens")
struct MountTableTests {
    @Test("enrollment confirms with the store, records the store, and hands out store tokens to sessions", arguments: TableBackend.allCases)
    func enrollmentAndTokens(backend: TableBackend) async throws {
        try await withStarted({ try await TableFixture.start(backend) }) { t in
            try await withStarted({ try await TestStore(.accept) }) { store in

                let answer = try await t.enroll(channel: "main", store: store)
                #expect(answer.status == 200, "\(answer.text)")
                let storeURL = store.userURL(1)
                let storeID = Digest.sha256Hex(Array(storeURL.utf8))
                #expect(answer.json?["store_id"]?.stringValue == storeID)
                #expect(answer.json?["url"]?.stringValue == storeURL)
                #expect(answer.json?["code"] == "the-code")
                #expect(answer.json?["created_time"]?.int64Value != nil)
                #expect(store.received.withLock { $0 } == [["code": "the-code", "table_url": .string(t.url + "user/1/"), "store_id": .string(storeID)]])

                // With the master: no store tokens.
                let withMaster = try await t.get("user/1/table?master=secret")
                #expect(withMaster.json?["main"]?[storeID]?["store_token"] == nil)
                #expect(withMaster.json?["main"]?[storeID]?["url"]?.stringValue == storeURL)

                // With a session: a store token per store, which the table accepts.
                let session = try await t.newSession()
                let table = try await t.get("user/1/table?session_token=\(session)")
                let storeToken = try #require(table.json?["main"]?[storeID]?["store_token"]?.stringValue)
                #expect(storeToken.hasPrefix("store_1_") && storeToken.contains("_\(storeID)_"))
                #expect(try await t.get("user/1/table/check/\(storeToken)").isOK)
                let channel = try await t.get("user/1/table/main", headers: [HTTP.bearer(session)])
                #expect(channel.json?[storeID]?["store_token"]?.stringValue == storeToken)

                // A forged signature, another user's path, a truncated token: refused.
                for bad in [String(storeToken.dropLast()) + (storeToken.last == "0" ? "1" : "0"), String(storeToken.dropLast(5))] {
                    let refused = try await t.get("user/1/table/check/\(bad)")
                    #expect(refused.status == 403)
                    #expect(refused.errorName == "UtilityError:InvalidStoreToken")
                }
                #expect(try await t.admin(.PUT, "admin/user/2/master/two").isOK)
                #expect(try await t.get("user/2/table/check/\(storeToken)").status == 403)

                // The store token dies with its session.
                #expect(try await t.delete("user/1/session/\(session)").isOK)
                #expect(try await t.get("user/1/table/check/\(storeToken)").status == 403)
            }
        }
    }

    @Test("a store removed from the table, or its channel removed, stops accepting its tokens", arguments: TableBackend.allCases)
    func removal(backend: TableBackend) async throws {
        try await withStarted({ try await TableFixture.start(backend) }) { t in
            try await withStarted({ try await TestStore(.accept) }) { a in
                try await withStarted({ try await TestStore(.accept) }) { b in
                    #expect(try await t.enroll(channel: "main", store: a).status == 200)
                    #expect(try await t.enroll(channel: "main", store: b).status == 200)
                    #expect(try await t.enroll(channel: "other", store: a).status == 200)
                    let session = try await t.newSession()
                    let table = try #require(try await t.get("user/1/table?session_token=\(session)").json)
                    #expect(table.objectValue?.keys.sorted() == ["main", "other"])
                    let idB = Digest.sha256Hex(Array(b.userURL(1).utf8))
                    let tokenB = try #require(table["main"]?[idB]?["store_token"]?.stringValue)

                    #expect(try await t.delete("user/1/table/main/store/\(idB)?master=secret").isOK)
                    #expect(try await t.get("user/1/table/main?master=secret").json?.objectValue?.count == 1)
                    #expect(try await t.get("user/1/table/check/\(tokenB)").status == 403)

                    #expect(try await t.delete("user/1/table/main?master=secret").isOK)
                    let gone = try await t.get("user/1/table/main?master=secret")
                    #expect(gone.status == 404)
                    #expect(gone.errorName == "TableError:UnknownChannel")
                    #expect(try await t.get("user/1/table?master=secret").json?.objectValue?.keys.sorted() == ["other"])
                }
            }
        }
    }

    @Test("a store that refuses the code: its error is relayed and nothing is recorded", arguments: TableBackend.allCases)
    func storeRefuses(backend: TableBackend) async throws {
        try await withStarted({ try await TableFixture.start(backend) }) { t in
            try await withStarted({ try await TestStore(.refuse) }) { store in
                let answer = try await t.enroll(channel: "main", store: store)
                #expect(answer.status == 400)
                #expect(answer.errorName == "UserError:InvalidCode")
                #expect(try await t.get("user/1/table?master=secret").json == [:])
            }
        }
    }

    @Test("a store that never answers, or is not there: a clear error within the timeout, nothing recorded", arguments: TableBackend.allCases)
    func storeUnreachable(backend: TableBackend) async throws {
        try await withStarted({ try await TableFixture.start(backend, configure: { $0.confirmTimeoutMs = 300 }) }) { t in
            try await withStarted({ try await TestStore(.hang) }) { store in
                let started = Date()
                let hung = try await t.enroll(channel: "main", store: store)
                #expect(hung.status == 502)
                #expect(hung.errorName == "TableError:StoreUnreachable")
                #expect(hung.json?["error"]?["message"]?.stringValue?.contains("timed out") == true)
                // The 502 "timed out" above is the confirm timeout at work (a hung store never
                // answers); this bound only catches a wait that does not end, so it is loose
                // enough for a 2-core machine running the whole suite (23 s seen once).
                #expect(Date().timeIntervalSince(started) < 60)

                let closed = try await HTTP.request(.POST, t.url + "user/1/table/main/store?master=secret",
                                                    json: ["store_url": "http://127.0.0.1:1/user/1/", "code": "c"])
                #expect(closed.status == 502)
                #expect(closed.errorName == "TableError:StoreUnreachable")
                #expect(try await t.get("user/1/table?master=secret").json == [:])
            }
        }
    }

    @Test("store URLs must be http(s), end with /, and carry no query", arguments: TableBackend.allCases, [
        "ftp://store/user/1/", "http://store/user/1", "http://store/user/1/?a=b", "store/user/1/", "", "http:///user/1/",
    ])
    func badStoreURL(backend: TableBackend, url: String) async throws {
        try await withStarted({ try await TableFixture.start(backend) }) { t in
            let answer = try await HTTP.request(.POST, t.url + "user/1/table/main/store?master=secret", json: ["store_url": .string(url), "code": "c"])
            #expect(answer.status == 400)
            #expect(answer.errorName == "TableError:InvalidStoreUrl")
        }
    }

    @Test("bodies: 413 over the limit, 415 not JSON, 400 too deep or malformed", arguments: TableBackend.allCases)
    func bodyLimits(backend: TableBackend) async throws {
        try await withStarted({ try await TableFixture.start(backend) }) { t in
            let route = t.url + "user/1/table/main/store?master=secret"
            let big = try await HTTP.request(.POST, route, headers: [("Content-Type", "application/json")],
                                             body: Array(("{\"store_url\":\"" + String(repeating: "a", count: 2 << 20) + "\"}").utf8))
            #expect(big.status == 413)
            #expect(big.errorName == "TableError:BodyTooLarge")
            let text = try await HTTP.request(.POST, route, headers: [("Content-Type", "text/plain")], body: Array("{}".utf8))
            #expect(text.status == 415)
            for depth in [65, 1_000, 100_000] {
                let deep = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
                let answer = try await HTTP.request(.POST, route, headers: [("Content-Type", "application/json")], body: Array(deep.utf8))
                #expect(answer.status == (depth * 2 > 1 << 20 ? 413 : 400))
            }
            let malformed = try await HTTP.request(.POST, route, headers: [("Content-Type", "application/json")], body: Array("{\"store_url\":".utf8))
            #expect(malformed.errorName == "TableError:InvalidJSON")
            let shape = try await HTTP.request(.POST, route, json: ["store_url": 5])
            #expect(shape.errorName == "TableError:InvalidPostBody")
        }
    }

    @Test("concurrent enrollments for one user all land", arguments: TableBackend.allCases)
    func concurrentWrites(backend: TableBackend) async throws {
        try await withStarted({ try await TableFixture.start(backend) }) { t in
            try await withStarted({ try await TestStore(.accept) }) { store in
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for i in 0..<20 { group.addTask { try await t.enroll(channel: "c\(i)", store: store).status } }
                    for try await status in group { #expect(status == 200) }
                }
                #expect(try await t.get("user/1/table?master=secret").json?.objectValue?.count == 20)
            }
        }
    }

    @Test("channel names are bytes: another spelling of a channel is neither found nor created beside it", arguments: TableBackend.allCases)
    func channelSpelling(backend: TableBackend) async throws {
        try await withStarted({ try await TableFixture.start(backend) }) { t in
            try await withStarted({ try await TestStore(.accept) }) { a in
                try await withStarted({ try await TestStore(.accept) }) { b in
                    // "\u{E4}" (NFC, %C3%A4) and "a\u{308}" (NFD, a%CC%88): equal as Swift strings, not as bytes.
                    #expect(try await t.enroll(channel: "%C3%A4", store: a).status == 200)

                    let clash = try await t.enroll(channel: "a%CC%88", store: b)
                    #expect(clash.status == 409, "\(clash.text)")
                    #expect(clash.errorName == "TableError:ChannelSpelling")
                    #expect(b.received.withLock { $0 }.isEmpty, "the store must not be asked to confirm a refused enrollment")

                    let other = try await t.get("user/1/table/a%CC%88?master=secret")
                    #expect(other.status == 404)
                    #expect(other.errorName == "TableError:UnknownChannel")
                    #expect(try await t.get("user/1/table/%C3%A4?master=secret").json?.objectValue?.count == 1)
                    let table = try #require(try await t.get("user/1/table?master=secret").json?.objectValue)
                    #expect(table.count == 1)
                    #expect(table.keys.first.map { Array($0.utf8) } == Array("\u{E4}".utf8))
                }
            }
        }
    }
}
