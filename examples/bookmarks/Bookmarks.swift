/// Bookmarks kept in sync between devices with the TeaBag library: a Swift
/// reducer for a new type, a client with on-disk storage, reads, writes and
/// live updates. examples/bookmarks/README.md walks through running it.
import Foundation
import TeaBag

@main
struct Bookmarks {
    /// Every bookmark of the user lives at one path of one type.
    static let type = "bookmarks"
    static let path = "/bookmarks"

    static func main() async {
        do {
            try await run(try Options.parse(CommandLine.arguments.dropFirst()))
        } catch {
            FileHandle.standardError.write(Data("teabag-example-bookmarks: \(error)\n".utf8))
            exit(1)
        }
    }

    static func run(_ options: Options) async throws {
        // 1. The reducer of type "bookmarks": each op's payload is
        //    {"add": url} or {"remove": url}; the value is the sorted list.
        //    `validate` refuses a bad payload before it is written; `step`
        //    folds one op into the state (the same on every device).
        let reducers = ReducerRegistry()
        reducers.register(type: type, initial: [], validate: { payload in
            guard let members = payload.objectValue, members.count == 1,
                  (members["add"] ?? members["remove"])?.stringValue != nil else {
                throw Failure(#"a bookmarks payload is {"add": url} or {"remove": url}"#)
            }
        }) { state, op in
            var urls = Set(state.arrayValue?.compactMap(\.stringValue) ?? [])
            if let url = op.payload?["add"]?.stringValue { urls.insert(url) }
            if let url = op.payload?["remove"]?.stringValue { urls.remove(url) }
            return .array(urls.sorted().map { .string($0) })
        }

        // 2. The client: the table, the user, and where this device keeps its
        //    outbox and cached oplogs, so that writes survive a restart (and
        //    wait there while the stores are out of reach).
        try FileManager.default.createDirectory(atPath: options.data, withIntermediateDirectories: true)
        var configuration = ClientConfiguration(
            tableURL: options.tableURL, user: options.user, credential: options.credential,
            storage: try SQLiteClientStorage(path: options.data + "/bookmarks.sqlite"))
        configuration.channels = [options.channel]
        let client = TeaBagClient(configuration, reducers: reducers)
        do {
            try await client.start()
        } catch {
            say("offline (\(error)); using what this device holds, changes wait in its outbox")
        }

        // 3. Reads and writes are local and immediate; the client carries
        //    writes to every store of the channel and streams others' in.
        switch options.command {
        case .add(let url):
            show(try await change(client, options.channel, ["add": .string(url)]))
        case .remove(let url):
            show(try await change(client, options.channel, ["remove": .string(url)]))
        case .list:
            _ = try await client.get(options.channel, type, path)
            await settle(client)  // let what other devices wrote meanwhile arrive
            show(try await client.get(options.channel, type, path))
        case .watch:
            let updates = await client.updates(options.channel, type: type, path: path)
            show(try await client.get(options.channel, type, path))
            for await update in updates {  // until Ctrl-C
                say("")
                show(update.value)
            }
        }

        // 4. Before exiting, give the write a moment to reach the stores.
        //    Whatever is still queued is kept on disk and sent by the next run.
        await settle(client)
        await client.close()
    }

    /// Pushes one op; answers the new list. It reads first: a path this
    /// device has never held is fetched from the stores, so that the list
    /// includes the other devices' bookmarks (offline, the write goes ahead).
    static func change(_ client: TeaBagClient, _ channel: String, _ payload: JSON) async throws -> JSON {
        _ = try? await client.get(channel, type, path)
        return try await client.push(channel, type, path, payload)
    }

    /// Waits (at most 5 s) until nothing is left to send or fetch.
    static func settle(_ client: TeaBagClient) async {
        for _ in 0..<100 where !(await client.isQuiet()) {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    static func show(_ value: JSON) {
        let urls = value.arrayValue?.compactMap(\.stringValue) ?? []
        say(urls.isEmpty ? "(no bookmarks)" : urls.joined(separator: "\n"))
    }

    /// A line on stdout at once (also when it is a pipe).
    static func say(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}

/// The command line: `[options] add URL | remove URL | list | watch`.
struct Options {
    enum Command { case add(String), remove(String), list, watch }

    var command = Command.list
    var tableURL = ""
    var user: Int64 = 1
    var credential = ClientConfiguration.Credential.master("")
    var data = "data/bookmarks"
    var channel = "main"

    static let usage = """
        usage: teabag-example-bookmarks [options] add URL | remove URL | list | watch
          --dev DIR              take the table and master from DIR/dev.json (`teabag dev --data DIR`; default: data)
          --table-url URL        the table, with --master M or --session-token T (user 1, or --user N)
          --data DIR             this device's storage (default data/bookmarks)
          --channel C            the channel (default main)
        """

    static func parse(_ arguments: ArraySlice<String>) throws -> Options {
        var options = Options()
        var dev = "data", master: String?, token: String?, words: [String] = []
        var rest = arguments
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("--") else { words.append(argument); continue }
            guard let value = rest.popFirst() else { throw Failure("\(argument) needs a value\n\(usage)") }
            switch argument {
            case "--dev": dev = value
            case "--table-url": options.tableURL = value
            case "--master": master = value
            case "--session-token": token = value
            case "--user": options.user = Int64(value) ?? 0
            case "--data": options.data = value
            case "--channel": options.channel = value
            default: throw Failure("unknown option \(argument)\n\(usage)")
            }
        }
        switch (words.first, words.count) {
        case ("add", 2): options.command = .add(words[1])
        case ("remove", 2): options.command = .remove(words[1])
        case ("list", 1): options.command = .list
        case ("watch", 1): options.command = .watch
        default: throw Failure(usage)
        }
        if options.tableURL.isEmpty {
            // A `teabag dev` data directory keeps its table port and master in dev.json.
            guard let bytes = FileManager.default.contents(atPath: dev + "/dev.json"),
                  let state = try? JSON.parse(Array(bytes)), let port = state["table_port"]?.int64Value else {
                throw Failure("no \(dev)/dev.json: start `teabag dev` (make dev), or give --table-url and --master")
            }
            options.tableURL = "http://127.0.0.1:\(port)/"
            master = master ?? state["master"]?.stringValue
        }
        if let token {
            options.credential = .session(token)
        } else if let master {
            options.credential = .master(master, description: "bookmarks example")
        } else {
            throw Failure("give --master M or --session-token T")
        }
        return options
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
