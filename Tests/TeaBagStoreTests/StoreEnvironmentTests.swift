import Foundation
import Testing
import TeaBagTestSupport

@Suite("teabag store: environment and generated key (process)")
struct StoreEnvironmentTests {
    @Test("TEABAG_STORE_PORT, TEABAG_STORE_KEY and TEABAG_DATA keep working")
    func originalVariables() async throws {
        let data = try temporaryDirectory("store-env")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let key = "env-store-key-0123456789"
        let store = try TeaBagProcess(["store", "--plugins", Repository.plugins], directory: data,
                                      environment: ["TEABAG_STORE_PORT": "0", "TEABAG_STORE_KEY": key, "TEABAG_DATA": data])
        defer { store.kill9() }
        let url = try #require(try await store.waitUntilListening("store"), "\(store.stderr)")
        #expect(try await HTTP.request(.PUT, url + "/admin/user/1", headers: [HTTP.basic("admin", key)]).isOK)
        #expect(try await HTTP.request(.PUT, url + "/admin/user/1", headers: [HTTP.basic("admin", "wrong-key-0123456789")]).status == 401)
        #expect(FileManager.default.fileExists(atPath: data + "/store.sqlite"))
        #expect(!FileManager.default.fileExists(atPath: data + "/store.key"))
    }

    @Test("with no key it generates one, keeps it 0600 in the data directory, says where, and reuses it after a restart")
    func generatedKey() async throws {
        let data = try temporaryDirectory("store-key")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let first = try TeaBagProcess(["store", "--port", "0", "--data", data], directory: data)
        _ = try #require(try await first.waitUntilListening("store"))
        let keyPath = data + "/store.key"
        #expect(first.stderr.contains(keyPath))
        #expect((try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int) == 0o600)
        let key = try String(contentsOfFile: keyPath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        first.signal(SIGTERM)
        #expect(try await first.waitForExit(seconds: 5) == 0)

        let second = try TeaBagProcess(["store", "--port", "0", "--data", data], directory: data)
        defer { second.kill9() }
        let url = try #require(try await second.waitUntilListening("store"))
        #expect(!second.stderr.contains("generated"))
        #expect(try await HTTP.request(.PUT, url + "/admin/user/1", headers: [HTTP.basic("admin", key)]).isOK)
    }
}
