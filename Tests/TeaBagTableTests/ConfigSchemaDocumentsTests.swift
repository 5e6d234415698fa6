import Foundation
import Testing
import TeaBagConfig
import TeaBagTestSupport

/// The schema is the one source of every key; the repository's copies of
/// what is written from it must not drift.
@Suite("Configuration schema documents")
struct ConfigSchemaDocumentsTests {
    @Test("conf.d/00-defaults.yaml is what the schema writes")
    func defaultsFile() throws {
        let text = try String(contentsOfFile: Repository.root + "/conf.d/00-defaults.yaml", encoding: .utf8)
        #expect(text == ConfigDocuments.defaultsYAML(),
                "conf.d/00-defaults.yaml differs from the schema; regenerate: .build/debug/teabag config defaults > conf.d/00-defaults.yaml")
    }

    @Test("docs/configuration.md's key tables are what the schema writes")
    func docsTables() throws {
        let text = try String(contentsOfFile: Repository.root + "/docs/configuration.md", encoding: .utf8)
        let updated = try #require(ConfigDocuments.updating(text), "docs/configuration.md lost its generated-tables markers")
        #expect(updated == text,
                "docs/configuration.md's key tables differ from the schema; regenerate: .build/debug/teabag config docs --update docs/configuration.md")
    }

    @Test("every key's default, uncommented, loads and passes its own checks")
    func defaultsLoad() async throws {
        let directory = try temporaryDirectory("conf")
        // Uncomment each key line of the generated file: the defaults must be valid configuration.
        let sections = Set(ConfigSchema.sections.map { "# \($0.name):" })
        let uncommented = ConfigDocuments.defaultsYAML().split(separator: "\n").map { line -> String in
            if sections.contains(String(line)) { return String(line.dropFirst(2)) }
            guard line.hasPrefix("#   ") else { return "" }
            let setting = line.dropFirst()
            return String(setting.range(of: " # ").map { setting[..<$0.lowerBound] } ?? setting)
        }.joined(separator: "\n")
        try uncommented.write(toFile: directory + "/00.yaml", atomically: true, encoding: .utf8)
        let settings = try await Settings.load(directory: directory, environment: [:])
        let set = Set(settings.confD.values.keys)
        let expected = Set(ConfigSchema.keys.map(\.key))
        #expect(set == expected, "keys not uncommented: \(expected.subtracting(set).sorted())")
        for spec in ConfigSchema.keys where spec.defaultValue != .null {
            #expect(settings.confD.values[spec.key]?.scalar == spec.defaultValue, "\(spec.key)")
        }
    }

    @Test("a key the schema knows is read with the type it declares, from the files once")
    func readsFromOneParse() async throws {
        let directory = try temporaryDirectory("conf")
        try "plugins:\n  directories: [a, b]\n  poll_ms: 20\nstore:\n  max_skew: 2s\n  key: ~\n".write(toFile: directory + "/10.yaml", atomically: true, encoding: .utf8)
        let settings = try await Settings.load(directory: directory, environment: [:])
        #expect(settings.reader.stringArray(forKey: "plugins.directories") == ["a", "b"])
        #expect(settings.reader.int(forKey: "plugins.poll_ms") == 20)
        #expect(settings.reader.milliseconds(forKey: "store.max_skew", default: 0) == 2_000)
        #expect(settings.reader.string(forKey: "store.key") == nil)  // ~ is unset
    }
}
