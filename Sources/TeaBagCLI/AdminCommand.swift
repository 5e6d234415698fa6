/// `teabag admin …`: the enrollment steps of docs/protocol.md#enrollment as commands, so a
/// deployment never needs curl. They go through the library's
/// `TableAdminAPI` and `StoreAdminAPI`.
import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TeaBag
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

    var api: TableAdminAPI { TableAdminAPI(tableURL: table) }
}

extension AdminCommand {
    struct CreateUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create-user", abstract: "Create a user on the table (or set its master, revoking its sessions).")
        @OptionGroup var target: TableOptions
        @Option(help: "The table's admin key.") var tableKey: String
        @Option(help: "The user's master secret.") var master: String

        func run() async throws {
            try await AdminHTTP.run(target.table) { try await target.api.createUser(target.user, master: master, adminKey: tableKey) }
            print("user \(target.user) created on \(target.table)")
        }
    }

    struct CreateStoreUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create-store-user", abstract: "Create a user on a store.")
        @Option(help: "The store's base URL, e.g. http://127.0.0.1:4001/") var store: String
        @Option(help: "The store's admin key.") var storeKey: String
        @Option(help: "The user id.") var user: Int64

        func run() async throws {
            try await AdminHTTP.run(store) { try await StoreAdminAPI(storeURL: store).createUser(user, adminKey: storeKey) }
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
            let store = StoreAdminAPI(storeURL: store)
            let storeURL = store.userURL(target.user)
            let record = try await AdminHTTP.run("\(target.table) and \(store.storeURL)") {
                try await target.api.enroll(store, storeKey: storeKey, user: target.user, master: master, channel: channel)
            }
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
            let token = try await AdminHTTP.run(target.table) {
                try await TableAPI().newSession(tableURL: target.api.tableURL, user: target.user, master: master, timeoutMs: timeout,
                                                description: description)
            }
            print(token)
        }
    }

    struct ListSessions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "sessions", abstract: "List the live sessions, oldest first.")
        @OptionGroup var target: TableOptions
        @Option(help: "The user's master secret.") var master: String

        func run() async throws {
            let sessions = try await AdminHTTP.run(target.table) { try await target.api.sessions(user: target.user, master: master) }
            for session in sessions {
                print("\(session["session_token"]?.stringValue ?? "?")\t\(session["description"]?.stringValue ?? "")")
            }
        }
    }

    struct RevokeSession: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke-session", abstract: "Revoke a session.")
        @OptionGroup var target: TableOptions
        @Argument(help: "The session token.") var token: String

        func run() async throws {
            try await AdminHTTP.run(target.table) { try await target.api.revokeSession(user: target.user, token: token) }
            print("revoked")
        }
    }

    struct ShowTable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "table", abstract: "Print the user's mount table as JSON.")
        @OptionGroup var target: TableOptions
        @Option(help: "The user's master secret.") var master: String

        func run() async throws {
            print(try await AdminHTTP.run(target.table) { try await target.api.mountTable(user: target.user, master: master) })
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
            try await AdminHTTP.run(target.table) {
                try await target.api.removeStore(user: target.user, master: master, channel: channel, storeID: id)
            }
            print("removed store \(id) from \(channel)")
        }
    }

    struct RemoveChannel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-channel", abstract: "Remove a channel from the mount table.")
        @OptionGroup var target: TableOptions
        @Option(help: "The user's master secret.") var master: String
        @Argument(help: "The channel.") var channel: String

        func run() async throws {
            try await AdminHTTP.run(target.table) { try await target.api.removeChannel(user: target.user, master: master, channel: channel) }
            print("removed channel \(channel)")
        }
    }
}

/// The CLI's HTTP: every failure becomes one line saying what to do.
enum AdminHTTP {
    /// One admin call: a refusal becomes `Name: message (status from server)`,
    /// no connection becomes `cannot reach server …`.
    @discardableResult
    static func run<T>(_ server: String, _ call: () async throws -> T) async throws -> T {
        do {
            return try await call()
        } catch let error as TeaBagError {
            if error.status == nil, error.name == ProtocolError.networkUnreachable.name || error.name == ProtocolError.clientCancelled.name {
                throw CLIFailure.runtime("cannot reach \(server): \(error.message)")
            }
            throw CLIFailure.runtime("\(error.name): \(error.message)" + (error.status.map { " (\($0) from \(server))" } ?? ""))
        }
    }

    /// `GET url` for JSON; nil when nothing answered.
    static func json(_ url: String) async -> JSON? {
        try? await exchange(request(.GET, url, body: nil), from: url) { "\($0)" }
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
