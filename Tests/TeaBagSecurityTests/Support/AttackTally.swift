/// Counts each attack a test makes and whether it was refused as expected
/// (the status, the protocol's JSON error and its name), asserting as it
/// counts. `save()` writes the figures where `tools/reliability-report`
/// reads them: `$TEABAG_RELIABILITY_DIR/attacks/` (default
/// `.build/reliability/attacks/`), one file per class and test, so that a
/// run of some tests only replaces their own figures.
import Foundation
import Synchronization
import Testing
import TeaBagCore
import TeaBagTestSupport

/// The classes of issue 8, part 3, in the report's order.
enum AttackClass: String, CaseIterable, Sendable {
    case tokens, adminKeys, bodies, nesting, utf8, paths, headers, sse, slowloris, fuzzer

    var title: String {
        switch self {
        case .tokens: "Forged, truncated, empty, expired, revoked and other-store tokens"
        case .adminKeys: "Wrong admin keys, and the limit on repeated failures (429)"
        case .bodies: "Oversized bodies, lying Content-Length, endless chunked body"
        case .nesting: "JSON nested 100, 1,000 and 100,000 deep"
        case .utf8: "Invalid UTF-8 (body, query, URL, headers)"
        case .paths: "`..`, `%2e%2e`, NUL, backslashes and control characters in path and type"
        case .headers: "Thousands of headers"
        case .sse: "CR/LF in values that reach an SSE line"
        case .slowloris: "Slowloris connections"
        case .fuzzer: "schemathesis (OpenAPI property-based fuzzer)"
        }
    }
}

/// What the tally needs of an answer, from AsyncHTTPClient or a raw socket.
protocol ErrorAnswer {
    var status: Int { get }
    var json: JSON? { get }
}

extension HTTPAnswer: ErrorAnswer {}
extension RawResponse: ErrorAnswer {}

final class AttackTally: Sendable {
    let attackClass: AttackClass
    let test: String
    /// `unchanged` is nil until a database comparison ran (the fuzzer writes on purpose and compares none).
    private let counts = Mutex<(tries: Int, refused: Int, unchanged: Bool?)>((0, 0, nil))

    init(_ attackClass: AttackClass, test: String) {
        self.attackClass = attackClass
        self.test = test
    }

    var tries: Int { counts.withLock { $0.tries } }
    var refused: Int { counts.withLock { $0.refused } }

    /// Expects `answer` to be the protocol's error (`{"error":{"name","message"}}`)
    /// with `status` and, when given, `name`; counts the try.
    func expectError(_ answer: (any ErrorAnswer)?, status: Int, name: String? = nil, _ what: String,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        expectError(answer, statuses: [status], name: name, what, sourceLocation: sourceLocation)
    }

    func expectError(_ answer: (any ErrorAnswer)?, statuses: Set<Int>, name: String? = nil, _ what: String,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        let ok = Self.isProtocolError(answer, statuses: statuses, name: name)
        #expect(ok, "\(attackClass.rawValue): \(what): expected \(statuses.sorted()) \(name ?? "any name"), got \(Self.render(answer))",
                sourceLocation: sourceLocation)
        record(refused: ok)
    }

    /// Counts a try judged by the test itself (e.g. a connection the server closed).
    func record(refused: Bool) {
        counts.withLock {
            $0.tries += 1
            if refused { $0.refused += 1 }
        }
    }

    /// The database comparison that closes the test.
    func expectUnchanged(_ before: DatabaseDump, _ after: DatabaseDump, _ what: String,
                         sourceLocation: SourceLocation = #_sourceLocation) {
        let same = before == after
        #expect(same, "\(attackClass.rawValue): \(what) changed the database:\n\(after.difference(from: before))",
                sourceLocation: sourceLocation)
        counts.withLock { $0.unchanged = ($0.unchanged ?? true) && same }
    }

    static func isProtocolError(_ answer: (any ErrorAnswer)?, statuses: Set<Int>, name: String?) -> Bool {
        guard let answer, statuses.contains(answer.status), let error = answer.json?["error"],
              let answered = error["name"]?.stringValue, error["message"]?.stringValue != nil,
              answered.contains(":"), answer.json?.objectValue?.count == 1 else { return false }
        return name.map { $0 == answered } ?? true
    }

    static func render(_ answer: (any ErrorAnswer)?) -> String {
        guard let answer else { return "no answer" }
        let body = answer.json.map { $0.canonicalString } ?? "(not JSON)"
        return "\(answer.status) \(body.prefix(300))"
    }

    /// Writes this test's figures for the report.
    func save() {
        let (tries, refused, unchanged) = counts.withLock { ($0.tries, $0.refused, $0.unchanged) }
        let record: JSON = [
            "class": .string(attackClass.rawValue), "title": .string(attackClass.title),
            "order": .number(Double(AttackClass.allCases.firstIndex(of: attackClass) ?? 0)),
            "test": .string(test), "tries": .number(Double(tries)), "refused": .number(Double(refused)),
            "database_unchanged": unchanged.map(JSON.bool) ?? .null, "date": .string(ISO8601DateFormatter().string(from: Date())),
        ]
        let directory = Self.directory + "/attacks"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let slug = test.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        let file = "\(directory)/\(attackClass.rawValue)--\(String(slug)).json"
        _ = FileManager.default.createFile(atPath: file, contents: Data(record.canonicalBytes))
    }

    static var directory: String {
        ProcessInfo.processInfo.environment["TEABAG_RELIABILITY_DIR"] ?? Repository.root + "/.build/reliability"
    }
}
