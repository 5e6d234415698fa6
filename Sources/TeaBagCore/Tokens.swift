/// Session and store tokens (docs/protocol.md#table). Opaque to clients, checked only by
/// the table:
///
///     session_<user>_<created_ms>_<timeout_ms>_<sig>
///     store_<user>_<created_ms>_<timeout_ms>_<store_id>_<sig2>
///
/// `sig` = HMAC-SHA256(table key, "<user>_<created>_<timeout>_<master hash>"),
/// so a new master (a new salted hash) invalidates every session at once;
/// `sig2` = HMAC-SHA256(key: sig, store_id), so a store token is good for one
/// store only, and a store that sees it learns nothing to forge another.
import Crypto

public struct SessionToken: Sendable, Equatable {
    public let user: Int64
    public let created: Int64
    public let timeout: Int64
    public let signature: String

    public var text: String { "session_\(user)_\(created)_\(timeout)_\(signature)" }

    public init(user: Int64, created: Int64, timeout: Int64, signature: String) {
        self.user = user
        self.created = created
        self.timeout = timeout
        self.signature = signature
    }

    /// Parses the shape only; `TokenSigner.verify` checks the signature.
    public init?(parsing text: String) {
        guard let parts = TokenText.split(text, prefix: "session", count: 5),
              let user = TokenText.number(parts[1]), user > 0, let created = TokenText.number(parts[2]),
              let timeout = TokenText.number(parts[3]), parts[4].count == 64 else { return nil }
        self.init(user: user, created: created, timeout: timeout, signature: String(decoding: parts[4], as: UTF8.self))
    }

    /// The store token of this session for one store.
    public func storeToken(storeID: String) -> StoreToken {
        StoreToken(user: user, created: created, timeout: timeout, storeID: storeID,
                   signature: TokenSigner.storeSignature(sessionSignature: signature, storeID: storeID))
    }
}

public struct StoreToken: Sendable, Equatable {
    public let user: Int64
    public let created: Int64
    public let timeout: Int64
    public let storeID: String
    public let signature: String

    public var text: String { "store_\(user)_\(created)_\(timeout)_\(storeID)_\(signature)" }

    public init(user: Int64, created: Int64, timeout: Int64, storeID: String, signature: String) {
        self.user = user
        self.created = created
        self.timeout = timeout
        self.storeID = storeID
        self.signature = signature
    }

    public init?(parsing text: String) {
        guard let parts = TokenText.split(text, prefix: "store", count: 6),
              let user = TokenText.number(parts[1]), user > 0, let created = TokenText.number(parts[2]),
              let timeout = TokenText.number(parts[3]), !parts[4].isEmpty, parts[4].count <= 128, parts[5].count == 64 else { return nil }
        self.init(user: user, created: created, timeout: timeout, storeID: String(decoding: parts[4], as: UTF8.self),
                  signature: String(decoding: parts[5], as: UTF8.self))
    }
}

/// Signs and verifies tokens with the table key.
public struct TokenSigner: Sendable {
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    public init(tableKey: String) {
        keyBytes = Array(tableKey.utf8)
    }

    public func sessionSignature(user: Int64, created: Int64, timeout: Int64, masterHash: String) -> String {
        Digest.hex(HMAC<SHA256>.authenticationCode(for: Array("\(user)_\(created)_\(timeout)_\(masterHash)".utf8), using: key))
    }

    public func session(user: Int64, created: Int64, timeout: Int64, masterHash: String) -> SessionToken {
        SessionToken(user: user, created: created, timeout: timeout,
                     signature: sessionSignature(user: user, created: created, timeout: timeout, masterHash: masterHash))
    }

    /// Whether `token` was signed by this table under the user's current master.
    public func verify(_ token: SessionToken, masterHash: String) -> Bool {
        let expected = sessionSignature(user: token.user, created: token.created, timeout: token.timeout, masterHash: masterHash)
        return ConstantTime.equals(expected, token.signature)
    }

    /// The session a store token derives from, when its signature is right.
    public func session(of token: StoreToken, masterHash: String) -> SessionToken? {
        let session = self.session(user: token.user, created: token.created, timeout: token.timeout, masterHash: masterHash)
        let expected = Self.storeSignature(sessionSignature: session.signature, storeID: token.storeID)
        return ConstantTime.equals(expected, token.signature) ? session : nil
    }

    public static func storeSignature(sessionSignature: String, storeID: String) -> String {
        Digest.hex(HMAC<SHA256>.authenticationCode(for: Array(storeID.utf8), using: SymmetricKey(data: Array(sessionSignature.utf8))))
    }
}

/// Token parsing over bytes: checks run for every store's first sight of a
/// token, so this stays clear of String splitting.
public enum TokenText {
    /// The `_`-separated fields of `text`, exactly `count` of them, the first being `prefix`.
    static func split(_ text: String, prefix: String, count: Int) -> [ArraySlice<UInt8>]? {
        let bytes = Array(text.utf8)
        guard bytes.count <= 512 else { return nil }
        let parts = bytes.split(separator: UInt8(ascii: "_"), omittingEmptySubsequences: false)
        guard parts.count == count, parts[0].elementsEqual(prefix.utf8) else { return nil }
        return parts
    }

    /// A non-negative decimal integer of at most 18 digits.
    static func number(_ digits: ArraySlice<UInt8>) -> Int64? {
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var value: Int64 = 0
        for digit in digits {
            guard digit >= 0x30 && digit <= 0x39 else { return nil }
            value = value * 10 + Int64(digit - 0x30)
        }
        return value
    }
}

public enum ConstantTime {
    /// Compares two secrets in time that depends only on their lengths.
    public static func equals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(truncatingIfNeeded: x.count ^ y.count)
        for i in 0..<max(x.count, y.count) {
            difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return difference == 0
    }
}
