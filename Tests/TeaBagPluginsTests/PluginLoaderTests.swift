import Foundation
import Testing
import TeaBagCore
@testable import TeaBagPlugins

@Suite("Plugin loader refusals")
struct PluginLoaderTests {
    @Test("each bad library is refused with one clear log line, and the host keeps serving the good ones", arguments: [
        ("no_entry", "no entry point teabag_reducers()"),
        ("bad_abi", "abi_version 99; this host speaks 1"),
        ("small_struct", "struct_size 8, smaller than this host's"),
        ("bad_type", "bad type name \"bad type!\""),
        ("null_fold", "has a NULL fold"),
    ])
    func refusal(fixture: String, reason: String) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try compileFixture(fixture, into: directory)
        try compileFixture("swap_v1", into: directory, as: "zz_good.so")
        let (logger, logs) = capturedLogger()
        let host = PluginHost(directories: [directory], logger: logger)

        #expect(host.refusals.count == 1)
        #expect(host.refusals.first?.file == "\(directory)/\(fixture).so")
        #expect(host.refusals.first?.reason.contains(reason) == true, "\(host.refusals)")
        let lines = logs.entries.filter { $0.level == .error }.map { "\($0.message)" }
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix("plugin refused: \(directory)/\(fixture).so: ") == true)
        // The good library still serves.
        #expect(host.types == ["swap"])
        #expect(host.fold(type: "swap", state: .null, ops: ops([1, 2])[...])?.value == 2)
    }

    @Test("a file that is not ELF is refused as not loadable")
    func notELF() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "this is not a library".write(toFile: "\(directory)/text.so", atomically: true, encoding: .utf8)
        let host = PluginHost(directories: [directory])
        #expect(host.refusals.first?.reason.hasPrefix("not a loadable shared library") == true, "\(host.refusals)")
        #expect(host.types.isEmpty)
    }

    @Test("two libraries claiming one type: the first in file-name order wins")
    func duplicateType() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try compileFixture("dup_b", into: directory, as: "a_dup_b.so")
        try compileFixture("dup_a", into: directory, as: "b_dup_a.so")
        let host = PluginHost(directories: [directory])
        #expect(host.fold(type: "dup", state: .null, ops: ops([1])[...])?.value == "b")
        #expect(host.refusals.map(\.file) == ["\(directory)/b_dup_a.so"])
        #expect(host.refusals.first?.reason.contains("already served by \(directory)/a_dup_b.so") == true)
    }

    @Test("a fold that returns invalid JSON refuses the op; the host skips it and counts it")
    func invalidJSON() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try compileFixture("invalid_json_fold", into: directory)
        let host = PluginHost(directories: [directory])
        let outcome = try #require(host.fold(type: "badjson", state: 7, ops: ops([1])[...]))
        #expect(outcome.value == 7)
        #expect(outcome.skipped.count == 1)
        #expect(outcome.skipped.first?.message.contains("fold returned invalid JSON") == true)
        #expect(host.skippedCounts == ["badjson": 1])
    }

    @Test("a multi-op fold the reducer refuses falls back to one op at a time, skipping only the bad op")
    func nonzeroFold() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try compileFixture("nonzero_fold", into: directory)
        let host = PluginHost(directories: [directory])
        let history = ops([1, 2, "bad", 4])
        let outcome = try #require(host.fold(type: "refuser", state: .null, ops: history[...]))
        #expect(outcome.value == 7)
        #expect(outcome.skipped == [.init(sha: history[2].sha, message: "refuser: bad payload")])
        #expect(host.recentSkips.map(\.sha) == [history[2].sha])
    }

    @Test("plugins check's loader accepts every shipped library")
    func shippedLoad() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Repo.plugins).filter { $0.hasSuffix(".so") }
        #expect(Set(files).isSuperset(of: ["counter.so", "register.so", "set.so", "merge.so", "log.so", "stats.so"]), "run `make plugins` first")
        for file in files {
            let reducers = try PluginLoader.load(file: "\(Repo.plugins)/\(file)")
            #expect(reducers.count >= 1)
        }
    }
}

@Suite("Plugin hot reload")
struct PluginReloadTests {
    @Test("a replaced .so in a watched directory is used for new calls without a restart")
    func replaceWatched() async throws {
        let directory = try temporaryDirectory()
        let build = try temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: build)
        }
        try compileFixture("swap_v1", into: directory, as: "swap.so")
        let host = PluginHost(directories: [directory])
        #expect(host.fold(type: "swap", state: .null, ops: ops([1, 1, 1])[...])?.value == 3)

        let watcher = Task { await host.watch(every: .milliseconds(50)) }
        defer { watcher.cancel() }
        // Replace in place, as `cp` does: same path, new content.
        try compileFixture("swap_v2", into: build, as: "swap.so")
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(build)/swap.so"))
        try data.write(to: URL(fileURLWithPath: "\(directory)/swap.so"))
        var value: JSON? = nil
        for _ in 0..<100 {
            try await Task.sleep(for: .milliseconds(50))
            value = host.fold(type: "swap", state: .null, ops: ops([1])[...])?.value
            if value == "v2" { break }
        }
        #expect(value == "v2")

        // A new file adds its types; a removed one stops serving.
        try compileFixture("dup_a", into: directory)
        for _ in 0..<100 where host.reducer(for: "dup") == nil { try await Task.sleep(for: .milliseconds(50)) }
        #expect(host.types == ["dup", "swap"])
        try FileManager.default.removeItem(atPath: "\(directory)/dup_a.so")
        for _ in 0..<100 where host.reducer(for: "dup") != nil { try await Task.sleep(for: .milliseconds(50)) }
        #expect(host.types == ["swap"])
    }

    @Test("reload() (SIGHUP) picks up a change at once and reports whether anything changed")
    func explicitReload() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let host = PluginHost(directories: [directory])
        #expect(host.types.isEmpty)
        #expect(host.reload() == false)
        try compileFixture("swap_v1", into: directory)
        #expect(host.reload() == true)
        #expect(host.types == ["swap"])
        // A reducer taken before a reload keeps working: libraries are never closed.
        let before = try #require(host.reducer(for: "swap"))
        try FileManager.default.removeItem(atPath: "\(directory)/swap_v1.so")
        #expect(host.reload() == true)
        #expect(host.reducer(for: "swap") == nil)
        #expect(Fold.fold(before, state: .null, ops: ops([5, 5])[...]).value == 2)
    }

    @Test("reloads asked at once (SIGHUP and the poll) load a new library once, and the newest scan is what serves")
    func concurrentReloads() throws {
        let directory = try temporaryDirectory()
        let build = try temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: build)
        }
        let counter = "\(build)/loads.txt"
        setenv("TB_LOAD_COUNTER", counter, 1)
        func loads() -> Int {
            ((try? String(contentsOfFile: counter, encoding: .utf8)) ?? "").split(separator: "\n").count
        }
        try compileFixture("load_counter", into: directory, as: "counted.so")
        let host = PluginHost(directories: [directory])
        #expect(loads() == 1)
        for round in 2...4 {
            // A new version moved into place (a new inode), then eight reloads at once.
            try compilePlugin("\(Repo.fixtures)/load_counter.c", to: "\(build)/counted.so", defines: ["VALUE=\"\\\"v\(round)\\\"\""])
            #expect(rename("\(build)/counted.so", "\(directory)/counted.so") == 0)
            DispatchQueue.concurrentPerform(iterations: 8) { _ in host.reload() }
            #expect(loads() == round, "round \(round): one load per new file")
            #expect(host.fold(type: "counted", state: .null, ops: ops([1])[...])?.value == .string("v\(round)"))
        }
    }
}
