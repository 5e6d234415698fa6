/// The dashboard's token: random per agent start, required on every
/// request (`?token=` or `Authorization: Bearer`), since any local user can
/// reach a loopback TCP port. Only the agent's socket (mode 0600) hands it out.
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TeaBagServerKit

struct DashboardToken: Sendable {
    let value: String

    /// 32 random bytes as hex.
    static func random() -> DashboardToken {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return DashboardToken(value: bytes.map { String(format: "%02x", $0) }.joined())
    }

    /// Compares in time independent of where the texts differ.
    func accepts(_ candidate: String?) -> Bool {
        guard let candidate else { return false }
        let a = Array(value.utf8), b = Array(candidate.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

/// Refuses any request without the token: 401 and a page saying how to get the URL.
struct DashboardTokenCheck<Context: RequestContext>: RouterMiddleware {
    let token: DashboardToken

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let query = request.uri.queryParameters[Substring("token")].map(String.init)
        let bearer = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard token.accepts(query) || token.accepts(bearer) else {
            return DashboardResponses.page(DashboardPage.refused, status: .unauthorized)
        }
        var response = try await next(request, context)
        response.headers[.cacheControl] = "no-store"
        return response
    }
}

enum DashboardResponses {
    /// Inline assets only; no third-party origin may load or be reached,
    /// and the token in the URL is never sent on as a referrer.
    static let headers: HTTPFields = [
        .contentType: "text/html; charset=utf-8",
        .cacheControl: "no-store",
        HTTPField.Name("Content-Security-Policy")!: "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
    ]

    static func page(_ html: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }
}
