/// One `teabag table|store|agent` process of a fault cluster, which a
/// scenario kills (SIGKILL), stops (SIGTERM) and starts again on the same
/// data directory and port, as an operator or systemd would.
import Foundation
import Synchronization
import TeaBagTestSupport

final class NodeProcess: Sendable {
    let role: String
    let name: String
    let data: String
    /// Every argument but `--port` (which is fixed after the first start).
    private let arguments: Mutex<[String]>
    private let listensOnPort: Bool
    private let environment: [String: String]
    private let state = Mutex<(process: TeaBagProcess?, port: Int?)>((nil, nil))
    /// The stderr of every process this node has been, for a failing test's log.
    private let pastLogs = Mutex<[String]>([])

    init(role: String, name: String, data: String, arguments: [String], listensOnPort: Bool = true, environment: [String: String] = [:]) {
        self.environment = environment
        self.role = role
        self.name = name
        self.data = data
        self.arguments = Mutex(arguments)
        self.listensOnPort = listensOnPort
    }

    var process: TeaBagProcess? { state.withLock { $0.process } }
    var port: Int? { state.withLock { $0.port } }
    var pid: Int32? { process?.pid }
    var isRunning: Bool { process?.isRunning ?? false }
    /// `http://127.0.0.1:PORT/` once started.
    var url: String { "http://127.0.0.1:\(port ?? 0)/" }

    /// Replaces the arguments of the next start (a plugin directory removed, say).
    func setArguments(_ new: [String]) { arguments.withLock { $0 = new } }

    /// Starts the process and waits for its readiness line. A port still
    /// held by the process just killed is tried again for a while.
    func start() async throws {
        for attempt in 0..<20 {
            let port = state.withLock { $0.port }
            var args = arguments.withLock { $0 }
            if listensOnPort { args += ["--port", "\(port ?? 0)"] }
            let process = try TeaBagProcess(args, directory: Repository.root, environment: environment)
            if let line = try await process.waitUntilListening(role, seconds: 60) {
                if listensOnPort, let bound = URL(string: line)?.port {
                    state.withLock { $0 = (process, bound) }
                } else {
                    state.withLock { $0.process = process }
                }
                return
            }
            let stderr = process.stderr
            process.kill9()
            remember(process)
            if stderr.contains("already in use") && attempt < 19 {
                try await Task.sleep(for: .milliseconds(500))
                continue
            }
            throw TestFailure("\(name) did not start: \(stderr.suffix(1500))")
        }
        throw TestFailure("\(name) did not start: its port stayed in use")
    }

    /// Starts a process that is expected to refuse to start; its exit
    /// status and output (nil status: still running after `seconds`, then killed).
    func startExpectingRefusal(seconds: Double = 30) async throws -> (status: Int32?, stdout: String, stderr: String) {
        var args = arguments.withLock { $0 }
        if listensOnPort { args += ["--port", "\(port ?? 0)"] }
        let process = try TeaBagProcess(args, directory: Repository.root, environment: environment)
        let status = try await process.waitForExit(seconds: seconds)
        if status == nil { process.kill9() }
        remember(process)
        return (status, process.stdout, process.stderr)
    }

    /// SIGKILL, by PID; returns once the process is reaped.
    func kill9() {
        guard let process = state.withLock({ value -> TeaBagProcess? in
            defer { value.process = nil }
            return value.process
        }) else { return }
        process.kill9()
        remember(process)
    }

    /// SIGTERM and up to 10 s for a clean exit (SIGKILL after that); the exit status.
    @discardableResult
    func stop() async -> Int32? {
        guard let process = state.withLock({ value -> TeaBagProcess? in
            defer { value.process = nil }
            return value.process
        }) else { return nil }
        process.signal(SIGTERM)
        let status = try? await process.waitForExit(seconds: 10)
        if status == nil { process.kill9() }
        remember(process)
        return status
    }

    /// Waits for a process that is dying on its own (a crashing plugin); its status.
    func waitForDeath(seconds: Double) async throws -> Int32? {
        guard let process else { return nil }
        guard let status = try await process.waitForExit(seconds: seconds) else { return nil }
        state.withLock { $0.process = nil }
        remember(process)
        return status
    }

    private func remember(_ process: TeaBagProcess) {
        pastLogs.withLock { $0.append(process.stderr) }
    }

    /// The last lines of everything this node printed on stderr.
    func logTail(lines: Int = 25) -> String {
        let all = pastLogs.withLock { $0 }.joined() + (process?.stderr ?? "")
        return all.split(separator: "\n", omittingEmptySubsequences: true).suffix(lines).joined(separator: "\n")
    }
}
