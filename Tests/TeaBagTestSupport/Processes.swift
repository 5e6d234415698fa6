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
    private let process: Process
    private let output = OutputBuffer()

    final class OutputBuffer: Sendable {
        private let text = Mutex<(stdout: String, stderr: String)>(("", ""))
        func withLock<R>(_ body: (inout (stdout: String, stderr: String)) -> R) -> R { text.withLock { body(&$0) } }
    }

    /// Starts `teabag arguments…` in `directory` with `environment` added to this process's own.
    public init(_ arguments: [String], directory: String? = nil, environment: [String: String] = [:]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: Repository.teabag)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let output = self.output
        out.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            output.withLock { $0.stdout += String(decoding: data, as: UTF8.self) }
        }
        err.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            output.withLock { $0.stderr += String(decoding: data, as: UTF8.self) }
        }
        try Self.spawning { try process.run() }
    }

    /// Foundation's `Process.run` is not safe to call from several threads
    /// at once: with suites spawning in parallel it crashed in its own
    /// memmove. Every spawn of the test process goes through this lock.
    public static func spawning<T>(_ body: () throws -> T) rethrows -> T {
        try spawnLock.withLock { _ in try body() }
    }

    private static let spawnLock = Mutex(())

    public var pid: Int32 { process.processIdentifier }
    public var stdout: String { output.withLock { $0.stdout } }
    public var stderr: String { output.withLock { $0.stderr } }
    public var isRunning: Bool { process.isRunning }

    /// The URL of the readiness line `teabag <role> listening on http://…`, once printed.
    public func waitUntilListening(_ role: String, seconds: Double = 30) async throws -> String? {
        let prefix = "teabag \(role) listening on "
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                return String(line.dropFirst(prefix.count))
            }
            if !process.isRunning { return nil }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// The exit status, or nil if it did not exit within `seconds`.
    public func waitForExit(seconds: Double = 10) async throws -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { return nil }
        // Let the pipe handlers drain.
        try await Task.sleep(for: .milliseconds(50))
        return process.terminationStatus
    }

    /// A test that fails half-way must not leave its processes behind.
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Ends the process (SIGKILL) if it still runs.
    public func kill9() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
