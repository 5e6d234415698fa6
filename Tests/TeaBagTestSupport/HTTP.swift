/// HTTP for the integration tests: real requests over loopback with
/// AsyncHTTPClient, answers parsed as the protocol's JSON.
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TeaBagCore

public struct HTTPAnswer: Sendable {
    public let status: Int
    public let headers: HTTPHeaders
    public let body: [UInt8]
    public var json: JSON? { try? JSON.parse(body) }
    public var text: String { String(decoding: body, as: UTF8.self) }
    /// The protocol error's name, when the answer is one.
    public var errorName: String? { json?["error"]?["name"]?.stringValue }
    public var isOK: Bool { status == 200 && json?["ok"] == true }
}

public enum HTTP {
    public static func request(_ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
                               json: JSON? = nil, timeout: TimeAmount = .seconds(30)) async throws -> HTTPAnswer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: json.canonicalBytes))
        } else if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        // AsyncHTTPClient's deadline ends with the response head; the body is
        // bounded here too, so that a server stalling half-way through an
        // answer fails the test instead of holding the run.
        let finished = request
        return try await withThrowingTaskGroup(of: HTTPAnswer?.self) { group in
            group.addTask {
                let response = try await HTTPClient.shared.execute(finished, timeout: timeout)
                let bytes = try await response.body.collect(upTo: 64 << 20)
                return HTTPAnswer(status: Int(response.status.code), headers: response.headers, body: Array(buffer: bytes))
            }
            group.addTask {
                try await Task.sleep(for: .nanoseconds(timeout.nanoseconds) + .seconds(1))
                return nil
            }
            defer { group.cancelAll() }
            guard let answer = try await group.next()! else {
                throw TestFailure("\(method) \(url): no whole answer within \(timeout)")
            }
            return answer
        }
    }

    public static func get(_ url: String, headers: [(String, String)] = []) async throws -> HTTPAnswer {
        try await request(.GET, url, headers: headers)
    }

    public static func basic(_ user: String, _ password: String) -> (String, String) {
        ("Authorization", "Basic " + Data("\(user):\(password)".utf8).base64EncodedString())
    }

    public static func bearer(_ token: String) -> (String, String) { ("Authorization", "Bearer \(token)") }

    /// Percent-encodes a query value.
    public static func q(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? value
    }
}
