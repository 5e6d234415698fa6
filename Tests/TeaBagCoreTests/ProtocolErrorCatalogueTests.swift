import Foundation
import Testing
import TeaBagCore

/// The catalogue of protocol errors is the one place their names live:
/// docs/protocol.md's table says the same, and no source file spells a
/// name of its own.
@Suite("Protocol error catalogue")
struct ProtocolErrorCatalogueTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Row: Equatable, CustomStringConvertible {
        let name: String, status: String, when: String
        var description: String { "| `\(name)` | \(status) | \(when) |" }
    }

    /// The rows of the table under `## Errors` in docs/protocol.md.
    static func documentedRows() throws -> [Row] {
        let text = try String(contentsOf: root.appendingPathComponent("docs/protocol.md"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let heading = lines.firstIndex(of: "## Errors") else { return [] }
        var rows: [Row] = []
        for line in lines[(heading + 1)...] {
            if line.hasPrefix("#") { break }
            guard line.hasPrefix("| `") else { continue }
            let cells = line.dropFirst().dropLast().split(separator: "|", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 3 else { continue }
            rows.append(Row(name: cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`")), status: cells[1], when: cells[2]))
        }
        return rows
    }

    @Test("docs/protocol.md's error table is the catalogue, row by row")
    func documentedTableMatches() throws {
        let expected = ProtocolError.catalogue.map { Row(name: $0.name, status: $0.status.map(String.init) ?? "—", when: $0.when) }
        let documented = try Self.documentedRows()
        #expect(documented.count == expected.count)
        for (index, row) in expected.enumerated() {
            let found = index < documented.count ? documented[index].description : "(nothing)"
            #expect(found == row.description, "row \(index + 1) of docs/protocol.md#errors")
        }
    }

    @Test("every entry is listed once, and no name has one status twice")
    func entriesAreDistinct() {
        let pairs = ProtocolError.catalogue.map { "\($0.name) \($0.status.map(String.init) ?? "-")" }
        #expect(Set(pairs).count == pairs.count)
        #expect(ProtocolError.catalogue.allSatisfy { $0.name.contains(":") && !$0.when.isEmpty })
    }

    @Test("a family takes the route's kind")
    func family() {
        #expect(ProtocolError.invalidUserId.in("SessionError").name == "SessionError:InvalidUserId")
        #expect(ProtocolError.bodyTooLarge.in("TableError").status == 413)
        #expect(ProtocolError.named("ClientError:Storage")?.status == 507)
        #expect(ProtocolError.named("UtilityError:UserNotFound")?.status == 401)
    }

    @Test("no source file spells an error name of its own")
    func noLiteralNames() throws {
        let sources = Self.root.appendingPathComponent("Sources")
        let pattern = try Regex(#""[A-Z][A-Za-z]*Error:[A-Za-z<>]+""#)
        var offenders: [String] = []
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        while let file = files?.nextObject() as? URL {
            guard file.pathExtension == "swift", file.lastPathComponent != "ProtocolError.swift" else { continue }
            let text = try String(contentsOf: file, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") && line.contains(pattern) {
                offenders.append("\(file.path.dropFirst(sources.path.count + 1)):\(number + 1)")
            }
        }
        #expect(offenders == [], "name these errors from ProtocolError")
    }
}
