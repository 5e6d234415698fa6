/// One error of the protocol: its `Kind:Reason` name, the HTTP status it is
/// answered with, and when. `ProtocolError.catalogue` is the one list of
/// them; the servers' `APIError`, the library's `TeaBagError` and the agent
/// name their errors from it, and a test keeps the table in
/// docs/protocol.md#errors equal to it.
///
/// A name can appear twice with two statuses where the original package
/// answers one name in two situations (`UtilityError:UserNotFound` is 404
/// for an unknown user, 401 for a wrong master).
public struct ProtocolError: Sendable, Hashable, CustomStringConvertible {
    /// `Kind:Reason`. In a family the kind is `<Kind>`: the route family
    /// chooses it (`SessionError`, `TableError`, …), see `in(_:)`.
    public let name: String
    /// The status it is answered with; nil where the error passes on the
    /// status of the answer it describes (a store's or table's reply).
    public let status: Int?
    /// When it is used, as docs/protocol.md says it.
    public let when: String

    public init(_ name: String, _ status: Int?, _ when: String) {
        self.name = name
        self.status = status
        self.when = when
    }

    public var description: String { name }

    /// The kind before the colon (`StoreError`, `<Kind>`, …).
    public var kind: Substring { name.prefix { $0 != ":" } }

    /// The reason after the colon.
    public var reason: Substring { name.drop { $0 != ":" }.dropFirst() }

    /// A family's error with its kind filled in: `bodyTooLarge.in("TableError")`
    /// is `TableError:BodyTooLarge`.
    public func `in`(_ kind: String) -> ProtocolError {
        ProtocolError("\(kind):\(reason)", status, when)
    }

    /// The first entry of that name (its status where the name has one).
    public static func named(_ name: String) -> ProtocolError? { byName[name] }

    private static let byName: [String: ProtocolError] =
        Dictionary(catalogue.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
}

// MARK: - Every server

extension ProtocolError {
    public static let invalidUserId = ProtocolError("<Kind>:InvalidUserId", 400, "`:user_id` is not a positive decimal integer")
    public static let bodyTooLarge = ProtocolError("<Kind>:BodyTooLarge", 413, "the body is over `*.body_limit` (from `Content-Length`, or while streaming)")
    public static let incompleteBody = ProtocolError("<Kind>:IncompleteBody", 400, "the body could not be read to its end")
    public static let invalidContentType = ProtocolError("<Kind>:InvalidContentType", 415, "a body that is not `application/json`")
    public static let tooDeep = ProtocolError("<Kind>:TooDeep", 400, "JSON nested deeper than 64")
    public static let invalidJSON = ProtocolError("<Kind>:InvalidJSON", 400, "malformed JSON, or not UTF-8")
    public static let serverUnknownRoute = ProtocolError("ServerError:UnknownRoute", 404, "no route has that method and path")
    public static let serverInternal = ProtocolError("ServerError:Internal", 500, "a bug; the server log has the details")
    public static let serverRefusal = ProtocolError("ServerError:<ReasonPhrase>", nil, "a refusal of the HTTP server itself, named after its status")
    public static let serverTooManyFailures = ProtocolError("ServerError:TooManyFailures", 429, "too many credential failures for one secret from one address; with `Retry-After`")
    public static let serverHeadersTooLarge = ProtocolError("ServerError:HeadersTooLarge", 431, "the request's headers are over the limit")
    public static let serverBadRequest = ProtocolError("ServerError:BadRequest", 400, "the request is not valid HTTP/1.1")
    public static let serverDatabaseUnavailable = ProtocolError("ServerError:DatabaseUnavailable", 503, "PostgreSQL did not answer in time; with `Retry-After`")
    public static let adminInvalidKey = ProtocolError("AdminError:InvalidKey", 401, "an admin route without HTTP Basic `admin:<key>` of this server")
}

// MARK: - Table

extension ProtocolError {
    public static let adminInvalidMaster = ProtocolError("AdminError:InvalidMaster", 400, "an empty master, or one that is not UTF-8")
    public static let tableMissingCredentials = ProtocolError("TableError:MissingCredentials", 401, "no master (or session token, where one is accepted)")
    public static let utilityWrongMaster = ProtocolError("UtilityError:UserNotFound", 401, "a wrong master for the user")
    public static let utilityUserNotFound = ProtocolError("UtilityError:UserNotFound", 404, "no such user on the table")
    public static let utilityInvalidSessionToken = ProtocolError("UtilityError:InvalidSessionToken", 403, "a session token revoked, expired or not the user's")
    public static let utilityInvalidStoreToken = ProtocolError("UtilityError:InvalidStoreToken", 403, "a store token whose session is gone or whose store is not enrolled, or one for another store")
    public static let sessionInvalidTimeout = ProtocolError("SessionError:InvalidTimeout", 400, "a session timeout missing or outside 1,000–2,678,400,000 ms")
    public static let sessionInvalidDescription = ProtocolError("SessionError:InvalidDescription", 400, "a session description that is not UTF-8")
    public static let tableUnknownChannel = ProtocolError("TableError:UnknownChannel", 404, "a channel the user has no store in (the agent: not in its mount table)")
    public static let tableInvalidChannel = ProtocolError("TableError:InvalidChannel", 400, "a channel name that is not 1–128 characters of UTF-8, has `/` or control characters, or is `.` or `..`")
    public static let tableChannelSpelling = ProtocolError("TableError:ChannelSpelling", 409, "enrolling a store under another Unicode spelling of a channel the user has (NFC and NFD of one name)")
    public static let tableInvalidPostBody = ProtocolError("TableError:InvalidPostBody", 400, "an enrollment body that is not `{store_url, code}`")
    public static let tableInvalidStoreUrl = ProtocolError("TableError:InvalidStoreUrl", 400, "a `store_url` that is not http(s), lacks the final `/` or has a query")
    public static let tableStoreUnreachable = ProtocolError("TableError:StoreUnreachable", 502, "the store could not be reached to confirm an enrollment")
    public static let tableStoreRefusal = ProtocolError("TableError:StoreRefusal", 502, "the store did not confirm an enrollment, and gave no protocol error")
}

// MARK: - Store

extension ProtocolError {
    public static let userInvalidPostBody = ProtocolError("UserError:InvalidPostBody", 400, "a confirm or batch body of the wrong shape")
    public static let userNotFound = ProtocolError("UserError:UserNotFound", 404, "a user the store does not know")
    public static let userInvalidCode = ProtocolError("UserError:InvalidCode", 400, "an enrollment code that is wrong, expired or used")
    public static let userInvalidTableUrl = ProtocolError("UserError:InvalidTableUrl", 400, "a `table_url` that is not http(s), lacks the final `/` or has a query")
    public static let userInvalidStoreId = ProtocolError("UserError:InvalidStoreId", 400, "a `store_id` that is not 1–128 characters without `_`")
    public static let userMissingStoreToken = ProtocolError("UserError:MissingStoreToken", 401, "no store token")
    public static let userNotConfirmed = ProtocolError("UserError:NotConfirmed", 403, "a user not yet enrolled with a table on this store")
    public static let userInvalidType = ProtocolError("UserError:InvalidType", 400, "a type that is not 1–64 of `[A-Za-z0-9_-]` (or not UTF-8)")
    public static let userInvalidPath = ProtocolError("UserError:InvalidPath", 400, "a path that is empty, leaves the root, or is not UTF-8")
    public static let userInvalidOpBody = ProtocolError("UserError:InvalidOpBody", 400, "an op of the wrong shape")
    public static let storeInvalidOp = ProtocolError("StoreError:InvalidOp", 400, "a payload the type's `validate` refuses")
    public static let storeNoReducerForPush = ProtocolError("StoreError:NoReducer", 400, "a push of a type the store has no reducer for, with `store.unknown_types: reject`")
    public static let storeNoReducer = ProtocolError("StoreError:NoReducer", 404, "a value read of a type the store has no reducer for")
    public static let storeFutureDate = ProtocolError("StoreError:FutureDate", 503, "an op dated more than `store.max_skew` ahead of the store's clock; with `Retry-After`")
    public static let storeDiskFull = ProtocolError("StoreError:DiskFull", 503, "the store's disk is full; with `Retry-After`")
    public static let storeShuttingDown = ProtocolError("StoreError:ShuttingDown", 503, "the store is stopping")
    public static let storeSlowReducer = ProtocolError("StoreError:SlowReducer", 503, "a value read whose fold did not finish in time; with `Retry-After`")
    public static let storeTableUnavailable = ProtocolError("StoreError:TableUnavailable", 503, "the table could not check a new store token")
}

// MARK: - Agent and client library

extension ProtocolError {
    public static let agentNoDashboard = ProtocolError("AgentError:NoDashboard", 404, "the agent runs no dashboard (`agent.dashboard_port` -1)")
    public static let agentDashboardStarting = ProtocolError("AgentError:NoDashboard", 503, "the dashboard is not listening yet")
    public static let storeTypeNotRegistered = ProtocolError("StoreError:TypeNotRegistered", 404, "a type without a reducer in the client")
    public static let channelAllStoresFailed = ProtocolError("ChannelError:AllStoresFailed", 503, "a path never held here, and no store of the channel answered")
    public static let tableUnreachable = ProtocolError("TableError:Unreachable", 503, "the table has not answered yet, so no channel is known")
    public static let networkUnreachable = ProtocolError("NetworkError:Unreachable", 503, "a server could not be reached")
    public static let networkStreamEnded = ProtocolError("NetworkError:StreamEnded", 400, "a store ended its stream (the client reconnects)")
    public static let networkTimeout = ProtocolError("NetworkError:Timeout", 400, "a store's stream was silent too long (the client reconnects)")
    public static let clientClosed = ProtocolError("ClientError:Closed", 503, "the client was closed")
    public static let clientCancelled = ProtocolError("ClientError:Cancelled", 400, "a request was cancelled")
    public static let clientStorage = ProtocolError("ClientError:Storage", 507, "the client's database cannot be opened or written (disk full, not writable)")
    public static let protocolBadAnswer = ProtocolError("ProtocolError:BadAnswer", nil, "a server's answer is not what the protocol says")
    public static let serverUnexpectedStatus = ProtocolError("ServerError:UnexpectedStatus", nil, "a server answered an error status without a protocol error")
}

extension ProtocolError {
    /// Every error, in the order of docs/protocol.md#errors.
    public static let catalogue: [ProtocolError] = [
        invalidUserId, bodyTooLarge, incompleteBody, invalidContentType, tooDeep, invalidJSON,
        serverUnknownRoute, serverInternal, serverRefusal, serverTooManyFailures, serverHeadersTooLarge,
        serverBadRequest, serverDatabaseUnavailable, adminInvalidKey,

        adminInvalidMaster, tableMissingCredentials, utilityWrongMaster, utilityUserNotFound,
        utilityInvalidSessionToken, utilityInvalidStoreToken, sessionInvalidTimeout, sessionInvalidDescription,
        tableUnknownChannel, tableInvalidChannel, tableChannelSpelling, tableInvalidPostBody, tableInvalidStoreUrl,
        tableStoreUnreachable, tableStoreRefusal,

        userInvalidPostBody, userNotFound, userInvalidCode, userInvalidTableUrl, userInvalidStoreId,
        userMissingStoreToken, userNotConfirmed, userInvalidType, userInvalidPath, userInvalidOpBody,
        storeInvalidOp, storeNoReducerForPush, storeNoReducer, storeFutureDate, storeDiskFull,
        storeShuttingDown, storeSlowReducer, storeTableUnavailable,

        agentNoDashboard, agentDashboardStarting, storeTypeNotRegistered, channelAllStoresFailed,
        tableUnreachable, networkUnreachable, networkStreamEnded, networkTimeout, clientClosed,
        clientCancelled, clientStorage, protocolBadAnswer, serverUnexpectedStatus,
    ]
}
