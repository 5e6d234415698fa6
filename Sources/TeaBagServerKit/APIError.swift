/// The protocol's error (docs/protocol.md#common-rules): `{"error":{"name":"Kind:Reason","message":"..."}}`
/// with a fitting status. Every refusal a server sends is one of these.
import Hummingbird
import TeaBagCore

public struct APIError: HTTPResponseError, Sendable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    /// `Kind:Reason`, the original package's names (`ProtocolError.catalogue`).
    public let name: String
    public let message: String
    /// Extra headers, e.g. `Retry-After` on a retry-later refusal.
    public var headers: HTTPFields = [:]

    /// An error of the catalogue, with the status it names.
    public init(_ error: ProtocolError, _ message: String) {
        guard let code = error.status else { preconditionFailure("\(error.name) has no status of its own; give one") }
        self.init(HTTPResponse.Status(catalogued: code), error.name, message)
    }

    /// An error whose status is not fixed: one passed on from another
    /// server's answer, or `ServerError:<ReasonPhrase>`.
    public init(_ status: HTTPResponse.Status, _ name: String, _ message: String) {
        self.status = status
        self.name = name
        self.message = message
    }

    public var description: String { "\(status.code) \(name): \(message)" }

    public var json: JSON { ["error": ["name": .string(name), "message": .string(message)]] }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = Response.json(json, status: status)
        response.headers.append(contentsOf: headers)
        return response
    }
}

extension APIError {
    public static func badRequest(_ name: String, _ message: String) -> APIError { APIError(.badRequest, name, message) }
    public static func unauthorized(_ name: String, _ message: String) -> APIError { APIError(.unauthorized, name, message) }
    public static func forbidden(_ name: String, _ message: String) -> APIError { APIError(.forbidden, name, message) }
    public static func notFound(_ name: String, _ message: String) -> APIError { APIError(.notFound, name, message) }
    public static func unavailable(_ name: String, _ message: String) -> APIError { APIError(.serviceUnavailable, name, message) }

    public static let unknownRoute = APIError(.serverUnknownRoute, "no such route; see docs/protocol.md")

    /// A failure that is ours, not the client's: logged in full, answered with 500.
    public static func `internal`(_ message: String = "internal error; the server log has the details") -> APIError {
        APIError(.serverInternal, message)
    }

    /// A refusal of the HTTP server itself (`ServerError:<ReasonPhrase>`).
    public static func serverRefusal(_ status: HTTPResponse.Status, _ message: String) -> APIError {
        APIError(status, "\(ProtocolError.serverRefusal.kind):\(status.reasonPhrase.replacingOccurrences(of: " ", with: ""))", message)
    }
}

extension HTTPResponse.Status {
    /// The status of a catalogue entry, with its usual reason phrase.
    public init(catalogued code: Int) {
        switch code {
        case 400: self = .badRequest
        case 401: self = .unauthorized
        case 403: self = .forbidden
        case 404: self = .notFound
        case 413: self = .contentTooLarge
        case 415: self = .unsupportedMediaType
        case 429: self = .tooManyRequests
        case 500: self = .internalServerError
        case 502: self = .badGateway
        case 503: self = .serviceUnavailable
        case 507: self = HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
        default: self = HTTPResponse.Status(code: code)
        }
    }
}

private let okBody = ByteBuffer(string: #"{"ok":true}"#)

extension Response {
    /// A JSON response in canonical form.
    public static func json(_ value: JSON, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(bytes: value.canonicalBytes)))
    }

    /// `{"ok":true}`.
    public static var ok: Response {
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: okBody))
    }
}
