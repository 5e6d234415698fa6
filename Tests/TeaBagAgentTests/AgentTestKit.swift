import Foundation
import TeaBagCore
import TeaBagTestSupport

/// What a finished `teabag` command printed and returned.
struct CLIResult {
    let status: Int32?
    let stdout: String
    let stderr: String

    var out: String { stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
    /// stderr's non-empty lines: every CLI failure is exactly one.
    var errorLines: [Substring] { stderr.split(separator: "\n").filter { !$0.isEmpty } }
}

/// Runs `teabag arguments…` to its end.
func teabag(_ arguments: [String], seconds: Double = 20) async throws -> CLIResult {
    let process = try TeaBagProcess(arguments, directory: Repository.root)
    let status = try await process.waitForExit(seconds: seconds)
    if status == nil { process.kill9() }
    return CLIResult(status: status, stdout: process.stdout, stderr: process.stderr)
}

/// An empty conf.d, so that the repository's files don't leak into a test.
func emptyConfig() throws -> String { try temporaryDirectory("conf") }

/// An agent process of user 1 against `user`'s table; its socket path.
struct AgentProcess {
    let process: TeaBagProcess
    let socket: String
    let data: String

    static func start(_ user: EnrolledUser, data: String? = nil, plugins: [String] = []) async throws -> AgentProcess {
        let data = try data ?? temporaryDirectory("agent")
        var arguments = ["agent", "--config", try emptyConfig(), "--table-url", user.table.url, "--user", "1",
                         "--session-token", user.session, "--data", data, "--plugins", Repository.plugins]
        for directory in plugins { arguments += ["--plugins", directory] }
        let process = try TeaBagProcess(arguments, directory: Repository.root)
        guard let line = try await process.waitUntilListening("agent"), line.hasPrefix("unix:") else {
            process.kill9()
            throw TestFailure("agent did not start: \(process.stderr)")
        }
        return AgentProcess(process: process, socket: String(line.dropFirst(5)), data: data)
    }

    func cli(_ arguments: [String]) async throws -> CLIResult {
        try await teabag([arguments[0], "--agent", socket] + arguments.dropFirst())
    }

    /// `teabag get` until it prints `expected`.
    func eventuallyGets(_ expected: String, _ channel: String, _ type: String, _ path: String, seconds: Double = 10) async throws -> Bool {
        try await eventually(seconds) { try await cli(["get", channel, type, path]).out == expected }
    }
}

/// Payload ops of a store's oplog, by sha.
func payloadShas(_ user: EnrolledUser, _ index: Int, _ type: String, _ path: String) async throws -> [String] {
    shas(Array(try await user.client(index).ops(type, path).dropFirst()))
}

/// `sh -c command` in the repository root; its exit status.
func shell(_ command: String) throws -> Int32 {
    try ChildProcess("/bin/sh", ["-c", command], directory: Repository.root).waitUntilExit()
}
