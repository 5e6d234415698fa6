/// Enrollment (docs/protocol.md#enrollment step 3): the table asks the store to confirm the
/// code with `POST {store_url}confirm` and records the store only on its ok.
import AsyncHTTPClient
import Hummingbird
import Foundation
import NIOCore
import NIOHTTP1
import TeaBagCore
import TeaBagServerKit

struct StoreEnroller: Sendable {
    let client: HTTPClient
    let timeout: TimeAmount

    /// `store_url`: http or https, ends with `/`, no query.
    static func validate(storeURL: String) throws -> String {
        guard BaseURL.isValid(storeURL) else {
            throw APIError(.tableInvalidStoreUrl, "store_url must be an http(s) URL ending with / and without a query, e.g. http://store:4001/user/1/")
        }
        return storeURL
    }

    /// Asks the store to confirm; throws the store's refusal, or an error saying it could not be reached.
    func confirm(storeURL: String, code: String, tableURL: String, storeID: String) async throws {
        var request = HTTPClientRequest(url: storeURL + "confirm")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let body: JSON = ["code": .string(code), "table_url": .string(tableURL), "store_id": .string(storeID)]
        request.body = .bytes(ByteBuffer(bytes: body.canonicalBytes))
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await client.execute(request, timeout: timeout)
            bytes = try await response.body.collect(upTo: 64 * 1024)
        } catch {
            throw APIError(.tableStoreUnreachable, "the store at \(storeURL) could not be reached to confirm (\(Self.describe(error)))")
        }
        let json = try? JSON.parse(Array(buffer: bytes))
        if response.status == .ok, json?["ok"] == true { return }
        if let error = json?["error"], let name = error["name"]?.stringValue, let message = error["message"]?.stringValue {
            // The store's own refusal, relayed with its name.
            let code = Int(response.status.code)
            let status: HTTPResponse.Status = (400..<500).contains(code) ? .init(code: code) : .badGateway
            throw APIError(status, name, "the store refused: \(message)")
        }
        throw APIError(.tableStoreRefusal, "the store at \(storeURL) did not confirm (status \(response.status.code))")
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError, error == .deadlineExceeded || error == .readTimeout { return "timed out" }
        return "\(error)"
    }
}
