/// The `teabag` executable run as a user runs it: a real process, its
/// readiness line, its exit status. Processes are ended by their PID only.
import Foundation
import Synchronization

public enum Repository {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    public static let teabag = "\(root)/.build/debug/teabag"
    public static let plugins = "\(root)/Plugins"
}

public final class TeaBagProcess: Sendable {
    private let child: ChildProcess
    private let output = OutputBuffer()

    final class OutputBuffer: Sendable {
        private let text = Mutex<(stdout: String, stderr: String)>(("", ""))
        func withLock<R>(_ body: (inout (stdout: String, stderr: String)) -> R) -> R { text.withLock { body(&$0) } }
    }

    /// Starts `teabag arguments…` in `directory` with `environment` added to this process's own.
    public init(_ arguments: [String], directory: String? = nil, environment: [String: String] = [:]) throws {
        child = try ChildProcess(Repository.teabag, arguments, directory: directory,
                                 environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new },
                                 stdout: .pipe, stderr: .pipe)
        let output = self.output
        child.stdout?.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil }
            output.withLock { $0.stdout += String(decoding: data, as: UTF8.self) }
        }
        child.stderr?.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil }
            output.withLock { $0.stderr += String(decoding: data, as: UTF8.self) }
        }
    }

    public var pid: Int32 { child.pid }
    public var stdout: String { output.withLock { $0.stdout } }
    public var stderr: String { output.withLock { $0.stderr } }
    public var isRunning: Bool { child.isRunning }

    /// The URL of the readiness line `teabag <role> listening on http://…`, once printed.
    public func waitUntilListening(_ role: String, seconds: Double = 30) async throws -> String? {
        let prefix = "teabag \(role) listening on "
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                return String(line.dropFirst(prefix.count))
            }
            if !child.isRunning { return nil }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    public func signal(_ signal: Int32) { child.signal(signal) }

    /// The exit status, or nil if it did not exit within `seconds`.
    public func waitForExit(seconds: Double = 10) async throws -> Int32? {
        guard let status = try await child.waitForExit(seconds: seconds) else { return nil }
        // Let the pipe handlers drain.
        try await Task.sleep(for: .milliseconds(50))
        return status
    }

    /// Ends the process (SIGKILL) if it still runs; `ChildProcess` kills a
    /// forgotten one when the test lets go of it.
    public func kill9() {
        child.signal(SIGKILL)
        child.waitUntilExit()
    }
}
