/// Setup requests of the benchmarks (not what they measure).
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TeaBagCore

enum BenchHTTP {
    @discardableResult
    static func request(_ method: String, _ url: String, basic: (String, String)? = nil, body: JSON? = nil) async throws -> JSON {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        if let basic { request.headers.add(name: "Authorization", value: "Basic " + Data("\(basic.0):\(basic.1)".utf8).base64EncodedString()) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body.canonicalBytes))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return (try? JSON.parse(Array(buffer: bytes))) ?? .null
    }
}
