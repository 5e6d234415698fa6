import HTTPTypes
import TeaBag
import TeaBagServerKit

extension APIError {
    /// The client runtime's error as the local API answers it: the same
    /// name and message, with a server's status where a server refused, else
    /// the status the catalogue gives the name (`ClientError:Storage` is 507:
    /// the machine's condition, not a bug — and nothing was acknowledged),
    /// else 400.
    init(_ error: TeaBagError) {
        let status: HTTPResponse.Status
        if let code = error.status, (400..<600).contains(code) {
            status = HTTPResponse.Status(code: code)
        } else if let code = ProtocolError.named(error.name)?.status {
            status = HTTPResponse.Status(catalogued: code)
        } else {
            status = .badRequest
        }
        self.init(status, error.name, error.message)
    }
}

/// Runs a route body, turning the runtime's errors into protocol errors.
func answering<T>(_ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch let error as TeaBagError { throw APIError(error) }
}
