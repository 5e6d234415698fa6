/// Credentials as the original passes them (query parameters `master`,
/// `session_token`, `store_token`) and as extensions in headers: HTTP Basic
/// (user id or `admin`, then the secret) and `Authorization: Bearer` (docs/protocol.md#common-rules).
import Foundation
import Hummingbird
import TeaBagCore

public struct Credentials: Sendable {
    public var master: String?
    public var sessionToken: String?
    public var storeToken: String?
    /// HTTP Basic, as given.
    public var basic: (user: String, password: String)?
    public var bearer: String?

    public init(_ request: Request) {
        let query = request.uri.queryParameters
        master = query["master"].map(String.init)
        sessionToken = query["session_token"].map(String.init)
        storeToken = query["store_token"].map(String.init)
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2 {
                let scheme = parts[0].lowercased()
                let value = String(parts[1]).trimmingCharacters(in: .whitespaces)
                if scheme == "basic", let data = Data(base64Encoded: value), let text = String(data: data, encoding: .utf8),
                   let colon = text.firstIndex(of: ":") {
                    basic = (String(text[..<colon]), String(text[text.index(after: colon)...]))
                } else if scheme == "bearer" {
                    bearer = value
                }
            }
        }
    }

    /// The master for `userID`: the query parameter, or Basic with that user id.
    public func master(for userID: Int64) -> String? {
        if let master { return master }
        if let basic, basic.user == String(userID) { return basic.password }
        return nil
    }

    /// A session token from the query or a Bearer header that looks like one.
    public var session: String? {
        sessionToken ?? bearer.flatMap { $0.hasPrefix("session_") ? $0 : nil }
    }

    /// A store token from the query or a Bearer header that looks like one.
    public var store: String? {
        storeToken ?? bearer.flatMap { $0.hasPrefix("store_") ? $0 : nil }
    }

    /// Whether HTTP Basic `admin:<key>` carries exactly `key` (constant time).
    public func isAdmin(key: String) -> Bool {
        guard let basic, basic.user == "admin" else { return false }
        return ConstantTime.equals(basic.password, key)
    }
}
