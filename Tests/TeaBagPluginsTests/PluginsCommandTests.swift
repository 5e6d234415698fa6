/// `teabag plugins list|check` as a user runs them: real process, real exit status.
import Foundation
import Testing

struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

func teabag(_ arguments: [String]) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "\(Repo.root)/.build/debug/teabag")
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: Repo.root)
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
}

@Suite("teabag plugins")
struct PluginsCommandTests {
    @Test("list prints each library's types, and refusals with their reason")
    func list() throws {
        let result = try teabag(["plugins", "list", Repo.plugins])
        #expect(result.status == 0)
        for line in ["counter.so\tcounter\t", "set.so\tset\t", "stats.so\tstats\t1.0.0"] {
            #expect(result.stdout.contains(line), "\(result.stdout)")
        }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try compileFixture("bad_abi", into: directory)
        let bad = try teabag(["plugins", "list", directory])
        #expect(bad.stdout.contains("refused\t\(directory)/bad_abi.so: reducer #0 has abi_version 99"), "\(bad.stdout)")
    }

    @Test("check exits 0 on a good library, printing sample verdicts, and 2 on a refused one")
    func check() throws {
        let good = try teabag(["plugins", "check", "\(Repo.plugins)/counter.so"])
        #expect(good.status == 0)
        #expect(good.stdout.contains("type\tcounter"))
        #expect(good.stdout.contains(#"payload "text"\#tvalidate refused: counter: payload must be a number, got "string""#), "\(good.stdout)")
        #expect(good.stdout.contains("payload 1\tvalidate accepted\tfold(null) → 1"))

        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let library = try compileFixture("null_fold", into: directory)
        let refused = try teabag(["plugins", "check", library])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("refused: reducer \"nullfold\" has a NULL fold"), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1)
    }

    @Test("usage errors exit 2 with one line")
    func usage() throws {
        let missing = try teabag(["plugins", "check", "/nonexistent.so"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("does not exist"))
        let unknown = try teabag(["plugins", "frobnicate"])
        #expect(unknown.status == 2)
    }
}
