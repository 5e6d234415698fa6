/// The clock of ops, sessions and codes: milliseconds since 1970. Servers
/// and clients take a `() -> Int64` defaulting to this, so tests can move time.
import Foundation

public enum WallClock {
    public static func milliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
