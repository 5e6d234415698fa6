import Foundation
import Testing
import TeaBagConfig
import TeaBagTable
import TeaBagTestSupport

@Suite("Configuration layering")
struct ConfigurationTests {
    func settings(files: [String: String], environment: [String: String] = [:], flags: [String: ConfValue.Scalar] = [:]) async throws -> Settings {
        let directory = try temporaryDirectory("conf")
        for (name, text) in files { try text.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8) }
        return try await Settings.load(directory: directory, environment: environment, flags: flags)
    }

    @Test("files in name order, then environment, then flags")
    func precedence() async throws {
        let files = ["10-a.yaml": "table:\n  port: 1000\n  host: 0.0.0.0\n  master_hash_rounds: 7\n", "20-b.yaml": "table:\n  port: 2000\n"]
        #expect(try TableConfiguration(settings: try await settings(files: files)).port == 2000)
        #expect(try TableConfiguration(settings: try await settings(files: files)).host == "0.0.0.0")
        let env = try TableConfiguration(settings: try await settings(files: files, environment: ["TEABAG_TABLE_PORT": "3000"]))
        #expect(env.port == 3000)
        #expect(env.masterHashRounds == 7)
        let flag = try TableConfiguration(settings: try await settings(files: files, environment: ["TEABAG_TABLE_PORT": "3000"], flags: ["table.port": .int(4000)]))
        #expect(flag.port == 4000)
        let data = try TableConfiguration(settings: try await settings(files: [:], environment: ["TEABAG_DATA": "/srv/tb"]))
        #expect(data.dataDirectory == "/srv/tb")
    }

    @Test("a bad environment value names the variable")
    func badEnvironment() async throws {
        do {
            _ = try await settings(files: [:], environment: ["TEABAG_TABLE_PORT": "eighty"])
            Issue.record("accepted")
        } catch let error as ConfigError {
            #expect(error.description == "environment TEABAG_TABLE_PORT: table.port: must be an integer, got \"eighty\"")
        }
    }

    @Test("conf.d/00-defaults.yaml documents every key")
    func defaultsDocumentEveryKey() throws {
        let text = try String(contentsOfFile: Repository.root + "/conf.d/00-defaults.yaml", encoding: .utf8)
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        for spec in ConfigSchema.keys {
            let parts = spec.key.split(separator: ".")
            let section = lines.firstIndex(of: "# \(parts[0]):")
            #expect(section != nil, "no section \(parts[0])")
            let documented = lines[(section ?? 0)...].contains { $0.hasPrefix("#") && $0.dropFirst().trimmingCharacters(in: .whitespaces).hasPrefix("\(parts[1]):") }
            #expect(documented, "\(spec.key) is not documented in conf.d/00-defaults.yaml")
        }
    }

    @Test("the repository's conf.d loads cleanly")
    func repositoryConfD() async throws {
        let loaded = try await Settings.load(directory: Repository.root + "/conf.d", environment: [:])
        #expect(loaded.confD.values.isEmpty)  // every default is a comment
        #expect(try TableConfiguration(settings: loaded).port == 4000)
    }
}
