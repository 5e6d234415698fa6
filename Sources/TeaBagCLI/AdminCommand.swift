/// `teabag admin …`: the enrollment steps of docs/protocol.md#enrollment as commands, so a
/// deployment never needs curl.
import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TeaBagCore
import TeaBagServerKit

struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Users, store enrollment and sessions, against a table and stores.",
        subcommands: [CreateUser.self, CreateStoreUser.self, Enroll.self, NewSession.self, ListSessions.self, RevokeSession.self, ShowTable.self,
                      RemoveStore.self, RemoveChannel.self]
    )
}

struct TableOptions: ParsableArguments {
    @Option(help: "The table's base URL, e.g. http://127.0.0.1:4000/") var table: String
    @Option(help: "The user id.") var user: Int64
}

extension AdminCommand {
    struct CreateUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create-user", abstract: "Create a user on the table (or set its master, revoking its sessions).")
        @OptionGroup var target: TableOptions
        @Option(help: "The table's admin key.") var tableKey: String
        @Option(help: "The user's master secret.") var master: String

        func run() async throws {
            try await AdminHTTP.expectOK(.PUT, AdminHTTP.url(target.table, "admin/user/\(target.user)/master/\(AdminHTTP.segment(master))"),
                                         basic: ("admin", tableKey))
            print("user \(target.user) created on \(target.table)")
        }
    }

    struct CreateStoreUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create-store-user", abstract: "Create a user on a store.")
        @Option(help: "The store's base URL, e.g. http://127.0.0.1:4001/") var store: String
        @Option(help: "The store's admin key.") var storeKey: String
        @Option(help: "The user id.") var user: Int64

        func run() async throws {
            try await AdminHTTP.expectOK(.PUT, AdminHTTP.url(store, "admin/user/\(user)"), basic: ("admin", storeKey))
            print("user \(user) created on \(store)")
        }
    }

    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enroll a store into a channel in one step: create the user on the store, get a code, post it to the table.")
        @OptionGroup var target: TableOptions
        @Option(help: "The user's master secret.") var master: String
        @Option(help: "The store's base URL, e.g. http://127.0.0.1:4001/") var store: String
        @Option(help: "The store's admin key.") var storeKey: String
        @Option(help: "The channel.") var channel: String = "main"

        func run() async throws {
            try await AdminHTTP.expectOK(.PUT, AdminHTTP.url(store, "admin/user/\(target.user)"), basic: ("admin", storeKey))
            let code = try await AdminHTTP.json(.GET, AdminHTTP.url(store, "admin/user/\(target.user)/code"), basic: ("admin", storeKey))
            guard let text = code["code"]?.stringValue else { throw CLIFailure.runtime("the store gave no code: \(code)") }
            let storeURL = AdminHTTP.url(store, "user/\(target.user)/")
            let record = try await AdminHTTP.json(.POST, AdminHTTP.url(target.table, "user/\(target.user)/table/\(AdminHTTP.segment(channel))/store"),
                                                  basic: (String(target.user), master),
                                                  body: ["store_url": .string(storeURL), "code": .string(text)])
            print("store \(record["store_id"]?.stringValue ?? "?") (\(storeURL)) enrolled in channel \(channel) of user \(target.user)")
        }
    }

    struct NewSession: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "new-session", abstract: "Create a session; prints its token.")
        @OptionGroup var target: TableOptions
        @Option(help: "The user's master secret.") var master: String
        @Option(help: "Sliding timeout in ms (1000 to 31 days).") var timeout: Int64 = 30 * 24 * 3_600_000
        @Option(help: "A description (e.g. the device).") var description: String = ""

        func run() async throws {
            let session = try await AdminHTTP.json(.GET, AdminHTTP.url(target.table, "user/\(target.user)/session/new?timeout=\(timeout)&description=\(AdminHTTP.query(description))"),
                                                   basic: (String(target.user), master))
            print(session["session_token"]?.stringValue ?? "\(session)")
        }
    }

    struct ListSessions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "sessions", abstract: "List the live sessions, oldest first.")
        @OptionGroup var target: TableOptions
        @Option(help: "The user's master secret.") var master: String

        func run() async throws {
            let sessions = try await AdminHTTP.json(.GET, AdminHTTP.url(target.table, "user/\(target.user)/session/all"), basic: (String(target.user), master))
            for session in sessions.arrayValue ?? [] {
                print("\(session["session_token"]?.stringValue ?? "?")\t\(session["description"]?.stringValue ?? "")")
            }
        }
    }

    struct RevokeSession: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke-session", abstract: "Revoke a session.")
        @OptionGroup var target: TableOptions
        @Argument(help: "The session token.") var token: String

        func run() async throws {
            try await AdminHTTP.expectOK(.DELETE, AdminHTTP.url(target.table, "user/\(target.user)/session/\(AdminHTTP.segment(token))"))
            print("revoked")
        }
    }

    struct ShowTable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "table", abstract: "Print the user's mount table as JSON.")
        @OptionGroup var target: TableOptions
        @Option(help: "The user's master secret.") var master: String

        func run() async throws {
            print(try await AdminHTTP.json(.GET, AdminHTTP.url(target.table, "user/\(target.user)/table"), basic: (String(target.user), master)))
        }
    }
}

extension AdminCommand {
    struct RemoveStore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-store", abstract: "Remove a store from a channel (agents stop using it at their next table refresh).")
        @OptionGroup var target: TableOptions
        @Option(help: "The user's master secret.") var master: String
        @Option(help: "The channel.") var channel: String = "main"
        @Option(help: "The store's id (from `teabag admin table`) or its user URL, e.g. http://127.0.0.1:4001/user/1/") var store: String

        func run() async throws {
            let id = store.hasPrefix("http") ? Digest.sha256Hex(Array(store.utf8)) : store
            try await AdminHTTP.expectOK(.DELETE, AdminHTTP.url(target.table, "user/\(target.user)/table/\(AdminHTTP.segment(channel))/store/\(AdminHTTP.segment(id))"),
                                         basic: (String(target.user), master))
            print("removed store \(id) from \(channel)")
        }
    }

    struct RemoveChannel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-channel", abstract: "Remove a channel from the mount table.")
        @OptionGroup var target: TableOptions
        @Option(help: "The user's master secret.") var master: String
        @Argument(help: "The channel.") var channel: String

        func run() async throws {
            try await AdminHTTP.expectOK(.DELETE, AdminHTTP.url(target.table, "user/\(target.user)/table/\(AdminHTTP.segment(channel))"),
                                         basic: (String(target.user), master))
            print("removed channel \(channel)")
        }
    }
}

/// The admin commands' HTTP: every failure becomes one line saying what to do.
enum AdminHTTP {
    static func url(_ base: String, _ path: String) -> String {
        (base.hasSuffix("/") ? base : base + "/") + path
    }

    static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }

    static func query(_ text: String) -> String { segment(text) }

    static func expectOK(_ method: HTTPMethod, _ url: String, basic: (String, String)? = nil) async throws {
        let answer = try await json(method, url, basic: basic)
        guard answer["ok"] == true else { throw CLIFailure.runtime("\(url) answered \(answer)") }
    }

    @discardableResult
    static func json(_ method: HTTPMethod, _ url: String, basic: (String, String)? = nil, body: JSON? = nil) async throws -> JSON {
        var request = Self.request(method, url, body: body)
        if let basic { request.headers.add(name: "Authorization", value: "Basic " + Data("\(basic.0):\(basic.1)".utf8).base64EncodedString()) }
        return try await exchange(request, from: url) { error in
            "cannot reach \(url) (\(error)); is the server running, and is the URL right?"
        }
    }

    static func request(_ method: HTTPMethod, _ url: String, body: JSON?) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body.canonicalBytes))
        }
        return request
    }

    /// One JSON request of the CLI (admin commands and the local agent alike):
    /// no connection → `unreachable`; the protocol's error → `Name: message`;
    /// any other status than 200 → `<source> answered <status>`.
    static func exchange(_ request: HTTPClientRequest, from source: String, citing: Bool = true,
                         unreachable: (any Error) -> String) async throws -> JSON {
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await OutboundHTTP.client.execute(request, timeout: .seconds(30))
            bytes = try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw CLIFailure.runtime(unreachable(error))
        }
        let json = (try? JSON.parse(Array(buffer: bytes), maxDepth: 512)) ?? .null
        if let error = json["error"], let name = error["name"]?.stringValue {
            let cited = citing ? " (\(response.status.code) from \(source))" : ""
            throw CLIFailure.runtime("\(name): \(error["message"]?.stringValue ?? "")\(cited)")
        }
        guard response.status == .ok else { throw CLIFailure.runtime("\(source) answered \(response.status.code)") }
        return json
    }
}
