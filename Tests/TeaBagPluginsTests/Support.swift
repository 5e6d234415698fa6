/// Shared by the plugin tests: the repository's paths, fixture libraries
/// compiled with `cc` at test time, and a captured logger.
import Foundation
import InMemoryLogging
import Logging
import TeaBagTestSupport
import TeaBagCore
@testable import TeaBagPlugins

enum Repo {
    /// The package root, found from this file's path.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let plugins = "\(root)/Plugins"
    static let include = "\(root)/Plugins/include"
    static let fixtures = "\(root)/Tests/Fixtures/plugins"
}

/// A fresh temporary directory, removed by the caller's `defer`.
func temporaryDirectory(_ name: String = "tb") throws -> String {
    let path = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

struct CompileError: Error, CustomStringConvertible {
    let description: String
}

/// Compiles a fixture (or any C file) into a shared library with the one
/// `cc` line of docs/plugins.md.
@discardableResult
func compilePlugin(_ source: String, to output: String, defines: [String] = []) throws -> String {
    let process = try ChildProcess("/usr/bin/env", ["cc", "-shared", "-fPIC", "-O2", "-I", Repo.include] + defines.map { "-D" + $0 } + [source, "-o", output],
                                   stderr: .pipe)
    let message = process.stderr?.readDataToEndOfFile() ?? Data()
    guard process.waitUntilExit() == 0 else {
        throw CompileError(description: "cc \(source) failed: \(String(decoding: message, as: UTF8.self))")
    }
    return output
}

func compileFixture(_ name: String, into directory: String, as fileName: String? = nil) throws -> String {
    try compilePlugin("\(Repo.fixtures)/\(name).c", to: "\(directory)/\(fileName ?? name + ".so")")
}

/// A logger whose lines the test can read.
func capturedLogger() -> (Logger, InMemoryLogHandler) {
    let handler = InMemoryLogHandler()
    return (Logger(label: "test", factory: { _ in handler }), handler)
}

/// A payload op as a node would create it.
func op(_ payload: JSON, seq: Int64 = 1, date: Int64? = nil) -> Op {
    OpFactory.payloadOp(payload: payload, node: "test", seq: seq, date: date ?? (1_000 + seq))
}

func ops(_ payloads: [JSON]) -> [Op] {
    payloads.enumerated().map { op($0.element, seq: Int64($0.offset + 1)) }
}
