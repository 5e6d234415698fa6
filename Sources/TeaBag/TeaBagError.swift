/// Every error the client runtime throws. It keeps the protocol's names
/// (`StoreError:TypeNotRegistered`, `ChannelError:AllStoresFailed`, …, all
/// in `ProtocolError.catalogue`) so a program can match on them, and its
/// message says what to do.
public struct TeaBagError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `Kind:Reason`, as the servers send it or as the runtime names its own.
    public let name: String
    public let message: String
    /// The HTTP status when a server answered; nil for local errors and
    /// network failures.
    public let status: Int?
    /// A server's `Retry-After`, in milliseconds.
    public let retryAfterMs: Int64?

    public init(_ name: String, _ message: String, status: Int? = nil, retryAfterMs: Int64? = nil) {
        self.name = name
        self.message = message
        self.status = status
        self.retryAfterMs = retryAfterMs
    }

    /// An error of the catalogue (`ProtocolError`), by its name.
    public init(_ error: ProtocolError, _ message: String, status: Int? = nil, retryAfterMs: Int64? = nil) {
        self.init(error.name, message, status: status, retryAfterMs: retryAfterMs)
    }

    public var description: String { "\(name): \(message)" }

    /// The kind before the colon (`StoreError`, `SessionError`, …).
    public var kind: Substring { name.split(separator: ":", maxSplits: 1).first ?? Substring(name) }

    /// A refusal that depends on the request alone (docs/sync.md#oplog-rules): retrying it
    /// can never succeed.
    public var isRefusedForGood: Bool {
        guard let status else { return false }
        return status == 400 || status == 404 || status == 413 || status == 415
    }

    /// A credential the table no longer honours: the session is revoked or
    /// expired, or the token was never valid.
    public var isCredentialFailure: Bool { status == 401 || status == 403 }
}

extension TeaBagError {
    static func network(_ what: String, _ error: any Error) -> TeaBagError {
        TeaBagError(.networkUnreachable, "\(what): \(error); check that the server is running and reachable")
    }

    static func unknownChannel(_ channel: String, known: [String]) -> TeaBagError {
        let list = known.isEmpty ? "the mount table has no channels yet" : "known channels: \(known.sorted().joined(separator: ", "))"
        return TeaBagError(.tableUnknownChannel, "no channel \"\(channel)\" in the mount table (\(list)); enroll a store into it with `teabag admin enroll`")
    }

    static func typeNotRegistered(_ type: String) -> TeaBagError {
        TeaBagError(.storeTypeNotRegistered, "no reducer for type \"\(type)\"; register one (a closure or a plugin in Plugins/) before reading or writing it")
    }

    static func allStoresFailed(_ channel: String, _ detail: String) -> TeaBagError {
        TeaBagError(.channelAllStoresFailed, "no store of channel \"\(channel)\" answered (\(detail)); the value has never been read here, so there is nothing local to answer with — retry once a store is reachable")
    }

    static let closed = TeaBagError(.clientClosed, "the client was closed; make a new one")
}
