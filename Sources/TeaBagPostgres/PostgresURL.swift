/// `table.database` and `store.database`: `postgresql://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]`.
import Foundation

public struct PostgresURL: Sendable, Equatable {
    public enum TLSMode: String, Sendable { case disable, prefer, require }

    public let host: String
    public let port: Int
    public let user: String
    public let password: String?
    public let database: String
    public let tls: TLSMode

    /// Nil with the reason when `text` is not such a URL.
    public static func parse(_ text: String) -> Result<PostgresURL, Problem> {
        guard let url = URLComponents(string: text), ["postgresql", "postgres"].contains(url.scheme ?? "") else {
            return .failure(Problem("must be a postgresql://user@host:port/database URL"))
        }
        guard let host = url.host, !host.isEmpty else { return .failure(Problem("names no host")) }
        guard let user = url.user, !user.isEmpty else { return .failure(Problem("names no user (postgresql://USER@host/database)")) }
        let database = String(url.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { return .failure(Problem("names no database (postgresql://user@host/DATABASE)")) }
        let port = url.port ?? 5432
        guard (1...65535).contains(port) else { return .failure(Problem("has a port outside 1 to 65535")) }
        var tls = TLSMode.disable
        for item in url.queryItems ?? [] {
            guard item.name == "sslmode", let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                return .failure(Problem("takes only ?sslmode=disable, prefer or require"))
            }
            tls = mode
        }
        return .success(PostgresURL(host: host, port: port, user: user, password: url.password, database: database, tls: tls))
    }

    public struct Problem: Error, Sendable { public let text: String; init(_ text: String) { self.text = text } }

    /// For logs: no password.
    public var redacted: String { "postgresql://\(user)@\(host):\(port)/\(database)" }
}
