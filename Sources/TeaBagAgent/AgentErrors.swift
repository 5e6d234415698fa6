import HTTPTypes
import TeaBag
import TeaBagServerKit

extension APIError {
    /// The client runtime's error as the local API answers it: the same
    /// name and message, with the status that fits.
    init(_ error: TeaBagError) {
        let status: HTTPResponse.Status
        switch error.name {
        case "TableError:UnknownChannel", "StoreError:TypeNotRegistered": status = .notFound
        case "ChannelError:AllStoresFailed", "NetworkError:Unreachable", "ClientError:Closed", "TableError:Unreachable": status = .serviceUnavailable
        // The write could not be kept on disk (full, or not writable): the
        // machine's condition, not a bug — and nothing was acknowledged.
        case "ClientError:Storage": status = HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
        default:
            if let code = error.status, (400..<600).contains(code) {
                status = HTTPResponse.Status(code: code)
            } else {
                status = .badRequest
            }
        }
        self.init(status, error.name, error.message)
    }
}

/// Runs a route body, turning the runtime's errors into protocol errors.
func answering<T>(_ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch let error as TeaBagError { throw APIError(error) }
}
