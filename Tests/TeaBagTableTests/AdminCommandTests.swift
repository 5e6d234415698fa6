import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("teabag admin (process)")
struct AdminCommandTests {
    func run(_ arguments: [String]) async throws -> (status: Int32?, stdout: String, stderr: String) {
        let process = try TeaBagProcess(arguments)
        let status = try await process.waitForExit(seconds: 30)
        return (status, process.stdout, process.stderr)
    }

    @Test("docs/protocol.md#enrollment end to end with commands only: user, enrollment in one step, sessions")
    func enrollmentWithoutCurl() async throws {
        let data = try temporaryDirectory("admin-cli")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let storeKey = "admin-test-store-key-0123"
        let table = try TeaBagProcess(["table", "--port", "0", "--data", data + "/t", "--key", testTableKey], directory: data)
        let store = try TeaBagProcess(["store", "--port", "0", "--data", data + "/s", "--key", storeKey, "--plugins", Repository.plugins], directory: data)
        defer { table.kill9(); store.kill9() }
        let tableURL = try #require(try await table.waitUntilListening("table")) + "/"
        let storeURL = try #require(try await store.waitUntilListening("store")) + "/"

        let created = try await run(["admin", "create-user", "--table", tableURL, "--user", "1", "--table-key", testTableKey, "--master", "s3cret"])
        #expect(created.status == 0, "\(created.stderr)")
        let enrolled = try await run(["admin", "enroll", "--table", tableURL, "--user", "1", "--master", "s3cret",
                                      "--store", storeURL, "--store-key", storeKey, "--channel", "main"])
        #expect(enrolled.status == 0, "\(enrolled.stderr)")
        #expect(enrolled.stdout.contains("enrolled in channel main"))
        let session = try await run(["admin", "new-session", "--table", tableURL, "--user", "1", "--master", "s3cret", "--description", "laptop"])
        let token = session.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.hasPrefix("session_1_"))
        let list = try await run(["admin", "sessions", "--table", tableURL, "--user", "1", "--master", "s3cret"])
        #expect(list.stdout.contains("\(token)\tlaptop"))

        // The store accepts the store token the table hands to that session.
        let mount = try await HTTP.get(tableURL + "user/1/table?session_token=\(token)")
        let storeToken = try #require(mount.json?["main"]?.objectValue?.values.first?["store_token"]?.stringValue)
        let pushed = try await HTTP.request(.POST, storeURL + "user/1/oplog?type=counter&path=/hits&store_token=\(storeToken)",
                                            json: ["date": 1_700_000_000_000, "sha": "x1", "payload": 1])
        #expect(pushed.isOK, "\(pushed.text)")

        let revoked = try await run(["admin", "revoke-session", "--table", tableURL, "--user", "1", token])
        #expect(revoked.status == 0)
        #expect(try await HTTP.get(tableURL + "user/1/session/check/\(token)").status == 403)
    }

    @Test("a failing admin command is one line and exit 1; a usage error exit 2")
    func failures() async throws {
        let unreachable = try await run(["admin", "create-user", "--table", "http://127.0.0.1:1/", "--user", "1", "--table-key", "k", "--master", "m"])
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.split(separator: "\n").count == 1)
        #expect(unreachable.stderr.contains("cannot reach"))
        let usage = try await run(["admin", "enroll", "--user", "x"])
        #expect(usage.status == 2)
    }
}
