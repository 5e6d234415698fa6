/// A limit on repeated credential failures per remote address: once an
/// address has had `maxFailures` answers of 401 (a wrong or missing admin
/// key, master or token) within `window`, its requests get 429
/// `ServerError:TooManyFailures` with `Retry-After` until the window ends.
/// Guessing a master or an admin key then costs a window per few guesses.
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

    /// Addresses tracked at most; past it the expired windows are dropped
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

/// Refuses requests of an address over its failure limit with 429, and
/// counts the 401s it is answered. `/healthz` and `/metrics` stay open.
public struct FailureLimit<Context: RequestContext & RemoteAddressRequestContext>: RouterMiddleware {
    let limiter: FailureLimiter

    public init(_ limiter: FailureLimiter) {
        self.limiter = limiter
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard path != "/healthz", path != "/metrics",
              let address = Self.key(context.remoteAddress, forwardedFor: request.headers[values: .xForwardedFor]) else {
            return try await next(request, context)
        }
        if let seconds = limiter.retryAfter(address) {
            var error = APIError(.tooManyRequests, "ServerError:TooManyFailures",
                                 "too many failed credential checks from this address; retry in \(seconds) s")
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
