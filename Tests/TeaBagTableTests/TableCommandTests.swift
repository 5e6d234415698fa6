import Foundation
import Testing
import TeaBagTestSupport

@Suite("teabag table (process)")
struct TableCommandTests {
    @Test("prints the readiness line, serves, and exits 0 within 5 s of SIGTERM")
    func readinessAndShutdown() async throws {
        let data = try temporaryDirectory("table-cli")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let table = try TeaBagProcess(["table", "--port", "0", "--data", data, "--key", testTableKey], directory: data)
        defer { table.kill9() }
        let url = try #require(try await table.waitUntilListening("table"), "stderr: \(table.stderr)")
        #expect(url.hasPrefix("http://127.0.0.1:"))
        #expect(try await HTTP.get(url + "/healthz").isOK)
        #expect(try await HTTP.request(.PUT, url + "/admin/user/1/master/m", headers: [HTTP.basic("admin", testTableKey)]).isOK)
        table.signal(SIGTERM)
        #expect(try await table.waitForExit(seconds: 5) == 0)  // nil past 5 s (docs/cli.md)
    }

    @Test("with no key configured it generates one, keeps it 0600 in the data directory, and says where")
    func generatedKey() async throws {
        let data = try temporaryDirectory("table-key")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let table = try TeaBagProcess(["table", "--port", "0", "--data", data], directory: data)
        defer { table.kill9() }
        let url = try #require(try await table.waitUntilListening("table"))
        let keyPath = data + "/table.key"
        #expect(table.stderr.contains(keyPath))
        let attributes = try FileManager.default.attributesOfItem(atPath: keyPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let key = try String(contentsOfFile: keyPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await HTTP.request(.PUT, url + "/admin/user/1/master/m", headers: [HTTP.basic("admin", key)]).isOK)
    }

    @Test("the original environment variables keep working")
    func environment() async throws {
        let data = try temporaryDirectory("table-env")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let table = try TeaBagProcess(["table"], directory: data,
                                      environment: ["TEABAG_TABLE_PORT": "0", "TEABAG_DATA": data, "TEABAG_TABLE_KEY": testTableKey,
                                                    "TEABAG_TABLE_URL": "https://table.example.com/"])
        defer { table.kill9() }
        let url = try #require(try await table.waitUntilListening("table"), "\(table.stderr)")
        #expect(try await HTTP.request(.PUT, url + "/admin/user/1/master/m", headers: [HTTP.basic("admin", testTableKey)]).isOK)
        #expect(FileManager.default.fileExists(atPath: data + "/table.sqlite"))
    }

    @Test("a bad configuration stops the start with the file and key named, exit 2", arguments: [
        ("table:\n  prot: 4000\n", "table.prot: unknown key"),
        ("table:\n  port: many\n", "table.port: must be a value of type int"),
        ("table:\n  key: short\n", "table.key: must be at least 16 characters"),
        ("table:\n  url: ftp://x/\n", "table.url: must be an http(s) URL"),
        ("table: [1\n", "invalid YAML"),
        ("table:\n  database: mysql://u@db/x\n", "table.database: must be a postgresql://user@host:port/database URL"),
        ("table:\n  database: postgresql://db:5432/x\n", "table.database: names no user"),
        ("table:\n  database: postgresql://u@db:5432/\n", "table.database: names no database"),
        ("table:\n  database: postgresql://u@db/x?sslmode=maybe\n", "table.database: takes only ?sslmode=disable, prefer or require"),
    ])
    func badConfiguration(yaml: String, message: String) async throws {
        let directory = try temporaryDirectory("table-conf")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/conf.d", withIntermediateDirectories: true)
        try yaml.write(toFile: directory + "/conf.d/10-table.yaml", atomically: true, encoding: .utf8)
        let table = try TeaBagProcess(["table", "--port", "0", "--data", directory + "/data"], directory: directory)
        defer { table.kill9() }
        #expect(try await table.waitForExit() == 2)
        let lines = table.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(table.stderr)")
        #expect(table.stderr.contains(message), "\(table.stderr)")
    }

    @Test("a port in use is exit 2 with one line saying so")
    func portInUse() async throws {
        let data = try temporaryDirectory("table-port")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let first = try TeaBagProcess(["table", "--port", "0", "--data", data + "/a", "--key", testTableKey], directory: data)
        defer { first.kill9() }
        let url = try #require(try await first.waitUntilListening("table"))
        let port = try #require(url.split(separator: ":").last.map(String.init))
        let second = try TeaBagProcess(["table", "--port", port, "--data", data + "/b", "--key", testTableKey], directory: data)
        defer { second.kill9() }
        #expect(try await second.waitForExit() == 2)
        #expect(second.stderr.contains("port is already in use"), "\(second.stderr)")
    }
}
