/// `teabag plugins list|check` as a user runs them: real process, real exit status.
import Foundation
import TeaBagTestSupport
import Testing

struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

func teabag(_ arguments: [String]) async throws -> CommandResult {
    let process = try ChildProcess("\(Repo.root)/.build/debug/teabag", arguments, directory: Repo.root, stdout: .pipe, stderr: .pipe)
    // stderr is read on another thread, so that neither pipe can fill up and stall the child.
    let stderr = Task.detached { process.stderr?.readDataToEndOfFile() ?? Data() }
    let stdout = process.stdout?.readDataToEndOfFile() ?? Data()
    let status = process.waitUntilExit()
    return CommandResult(status: status, stdout: String(decoding: stdout, as: UTF8.self),
                         stderr: String(decoding: await stderr.value, as: UTF8.self))
}

@Suite("teabag plugins")
struct PluginsCommandTests {
    @Test("list prints each library's types, and refusals with their reason")
    func list() async throws {
        let result = try await teabag(["plugins", "list", Repo.plugins])
        #expect(result.status == 0)
        for line in ["counter.so\tcounter\t", "set.so\tset\t", "stats.so\tstats\t1.0.0"] {
            #expect(result.stdout.contains(line), "\(result.stdout)")
        }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try compileFixture("bad_abi", into: directory)
        let bad = try await teabag(["plugins", "list", directory])
        #expect(bad.stdout.contains("refused\t\(directory)/bad_abi.so: reducer #0 has abi_version 99"), "\(bad.stdout)")
    }

    @Test("check exits 0 on a good library, printing sample verdicts, and 2 on a refused one")
    func check() async throws {
        let good = try await teabag(["plugins", "check", "\(Repo.plugins)/counter.so"])
        #expect(good.status == 0)
        #expect(good.stdout.contains("type\tcounter"))
        #expect(good.stdout.contains(#"payload "text"\#tvalidate refused: counter: payload must be a number, got "string""#), "\(good.stdout)")
        #expect(good.stdout.contains("payload 1\tvalidate accepted\tfold(null) → 1"))

        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let library = try compileFixture("null_fold", into: directory)
        let refused = try await teabag(["plugins", "check", library])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("refused: reducer \"nullfold\" has a NULL fold"), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1)
    }

    @Test("usage errors exit 2 with one line")
    func usage() async throws {
        let missing = try await teabag(["plugins", "check", "/nonexistent.so"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("does not exist"))
        let unknown = try await teabag(["plugins", "frobnicate"])
        #expect(unknown.status == 2)
    }
}
