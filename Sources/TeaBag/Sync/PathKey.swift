import TeaBagCore

/// One oplog of a channel: `(type, path)`, path normalized (docs/protocol.md#store).
public struct PathKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let type: String
    public let path: String

    /// Checks and normalizes; throws the protocol's `UserError:InvalidType` /
    /// `UserError:InvalidPath` before anything is sent.
    public init(type: String, path: String) throws(TeaBagError) {
        guard OplogKey.isValidType(type) else {
            throw TeaBagError(.userInvalidType, "type \"\(type)\" must be 1–64 characters of A-Z a-z 0-9 _ -", status: 400)
        }
        guard let normalized = OplogKey.normalizePath(path) else {
            throw TeaBagError(.userInvalidPath, "path \"\(path)\" must be non-empty and must not leave the root with ..", status: 400)
        }
        self.type = type
        self.path = normalized
    }

    /// For keys already checked (read back from storage or a store).
    init(checkedType type: String, path: String) {
        self.type = type
        self.path = path
    }

    public var description: String { "\(type) \(path)" }
    // Type and path are bytes: another Unicode spelling is another oplog, as at the store.
    public static func < (a: PathKey, b: PathKey) -> Bool {
        Bytewise.equal(a.type, b.type) ? Bytewise.less(a.path, b.path) : Bytewise.less(a.type, b.type)
    }
    public static func == (a: PathKey, b: PathKey) -> Bool { Bytewise.equal(a.type, b.type) && Bytewise.equal(a.path, b.path) }
    public func hash(into hasher: inout Hasher) {
        Bytewise.hash(type, into: &hasher)
        Bytewise.hash(path, into: &hasher)
    }
}

/// A store of a channel as the mount table gives it.
public struct StoreEndpoint: Hashable, Sendable {
    /// Hex SHA-256 of `userURL` (docs/protocol.md#table).
    public let storeID: String
    /// The store's base for this user, ending in `/user/:id/`.
    public let userURL: String
    public let token: String

    public init(storeID: String, userURL: String, token: String) {
        self.storeID = storeID
        self.userURL = userURL
        self.token = token
    }
}

/// What a store said about one op it was sent.
public enum StoreAnswer: Sendable, Equatable {
    /// Held now (`noop`: it already was, or the base covers it).
    case accepted(noop: Bool)
    /// Refused for reasons of the op alone (400): never retried.
    case refused(TeaBagError)
    /// Retry later (503, e.g. `StoreError:FutureDate`), in order.
    case retryLater(TeaBagError)
}
