/// A limit on guessing a secret: once one remote address has had
/// `maxFailures` answers of 401 within `window` for one secret — the master
/// of one user, or the admin key — its requests that try that secret again
/// get 429 `ServerError:TooManyFailures` with `Retry-After` until the window
/// ends. Guessing a master or an admin key then costs a window per few guesses.
///
/// The limit is per secret and address, never per address alone: behind a
/// NAT or a proxy one client's guesses must not lock out everyone else. A
/// request that tries no guessable secret (a session or store token, whose
/// HMAC signature is checked instead, or no credentials at all) is never
/// refused by the limiter, and neither is another user's master or a
/// master from another address. The one request with valid credentials it
/// does refuse is the very secret being guessed, from the guessing address,
/// during its window: letting that through would let the guesser tell its
/// right guess by the answer.
///
/// Behind a reverse proxy on the same machine the address is the one the
/// proxy puts last in `X-Forwarded-For` (see `FailureLimit.key`).
///
/// Only 401s count: a 403 (a revoked or expired token) is an HMAC-signed
/// token's refusal, not a guess, and the table answers the stores' token
/// checks with 403 — counting those would lock a store out of its table.
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization
import TeaBagCore

public final class FailureLimiter: Sendable {
    public struct Settings: Sendable, Equatable {
        /// 401s allowed per address and window; 0 turns the limit off.
        public var maxFailures: Int
        public var windowMs: Int
        public init(maxFailures: Int = 20, windowMs: Int = 60_000) {
            self.maxFailures = maxFailures
            self.windowMs = windowMs
        }
    }

    private struct Window {
        var start: Int64
        var failures: Int
    }

    /// Secret-and-address keys tracked at most; past it the expired windows are dropped
    /// (and, under a flood of addresses, the oldest), so memory stays bounded.
    static let maxTracked = 50_000

    public let settings: Settings
    private let clock: @Sendable () -> Int64
    private let windows = Mutex<[String: Window]>([:])

    public init(_ settings: Settings, clock: @escaping @Sendable () -> Int64 = WallClock.milliseconds) {
        self.settings = settings
        self.clock = clock
    }

    /// Seconds until `address` may try again, or nil when it may now.
    public func retryAfter(_ address: String) -> Int? {
        guard settings.maxFailures > 0 else { return nil }
        let now = clock()
        return windows.withLock { windows -> Int? in
            guard let window = windows[address] else { return nil }
            let end = window.start + Int64(settings.windowMs)
            if now >= end {
                windows[address] = nil
                return nil
            }
            guard window.failures >= settings.maxFailures else { return nil }
            return Int(max(1, (end - now + 999) / 1000))
        }
    }

    /// Counts one failure of `address`.
    public func recordFailure(_ address: String) {
        guard settings.maxFailures > 0 else { return }
        let now = clock()
        let length = Int64(settings.windowMs)
        windows.withLock { windows in
            if var window = windows[address], now < window.start + length {
                window.failures += 1
                windows[address] = window
                return
            }
            if windows.count >= Self.maxTracked {
                windows = windows.filter { now < $0.value.start + length }
                if windows.count >= Self.maxTracked, let oldest = windows.min(by: { $0.value.start < $1.value.start }) {
                    windows[oldest.key] = nil
                }
            }
            windows[address] = Window(start: now, failures: 1)
        }
    }
}

/// Refuses a request that tries a secret its address has guessed wrong too
/// often with 429, and counts the 401s such requests are answered.
/// `/healthz` and `/metrics` stay open.
public struct FailureLimit<Context: RequestContext & RemoteAddressRequestContext>: RouterMiddleware {
    let limiter: FailureLimiter

    public init(_ limiter: FailureLimiter) {
        self.limiter = limiter
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard path != "/healthz", path != "/metrics",
              Self.mayTrySecret(request), let secret = Self.secretTried(path: path, credentials: Credentials(request)),
              let client = Self.key(context.remoteAddress, forwardedFor: request.headers[values: .xForwardedFor]) else {
            return try await next(request, context)
        }
        let address = secret + " from " + client
        if let seconds = limiter.retryAfter(address) {
            var error = APIError(.serverTooManyFailures, "too many wrong \(secret)s from this address; retry in \(seconds) s")
            error.headers[.retryAfter] = String(seconds)
            throw error
        }
        do {
            let response = try await next(request, context)
            if response.status == .unauthorized { limiter.recordFailure(address) }
            return response
        } catch let error as any HTTPResponseError {
            if error.status == .unauthorized { limiter.recordFailure(address) }
            throw error
        }
    }

    /// A cheap first look, so that token requests (the hot path) skip parsing credentials.
    static func mayTrySecret(_ request: Request) -> Bool {
        if let authorization = request.headers[.authorization], authorization.prefix(6).lowercased() == "basic " { return true }
        return request.uri.query?.contains("master=") ?? false
    }

    /// The guessable secret a request tries — `master of user N` or `admin
    /// key` — or nil when it tries none (tokens are signed: a wrong one is
    /// a 403, not a guess). The user of a master is the one of the path
    /// (`/user/N/…`), or HTTP Basic's user name when the path names none.
    static func secretTried(path: String, credentials: Credentials) -> String? {
        if let basic = credentials.basic, basic.user == "admin" { return "admin key" }
        guard credentials.master != nil || credentials.basic != nil else { return nil }
        let segments = path.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: true)
        let user = segments.count >= 2 && segments[0] == "user" ? segments[1] : Substring(credentials.basic?.user ?? "?")
        return "master of user \(user.prefix(32))"
    }

    /// The IP address alone (the port changes with every connection); nil
    /// for a Unix socket, whose permissions are its access control.
    ///
    /// Behind a reverse proxy on the same machine (docs/deploy.md) every
    /// request comes from loopback: then the client is the last address of
    /// `X-Forwarded-For`, the one the proxy appended (a client's own
    /// `X-Forwarded-For` only comes before it). From any other peer the
    /// header is not trusted.
    static func key(_ address: SocketAddress?, forwardedFor: [String] = []) -> String? {
        guard let address, let ip = address.ipAddress else { return nil }
        if isLoopback(ip),
           let last = forwardedFor.joined(separator: ",").split(separator: ",").last?.trimmingCharacters(in: .whitespaces),
           !last.isEmpty {
            return last
        }
        return ip
    }

    static func isLoopback(_ ip: String) -> Bool {
        ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
    }
}

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}
