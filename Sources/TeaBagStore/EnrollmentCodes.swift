/// Enrollment codes (SPEC §2.3, §2.4): `<created_ms>_<expiry_ms>_<hmac>`,
/// valid two minutes, single use (ext), HMAC-SHA256 under the store key.
///
/// Two codes asked for one user in the same millisecond must differ (each
/// is single use): the second gets an expiry one millisecond earlier, the
/// third two, and so on (issue 14 §8).
import Crypto
import Synchronization
import TeaBagCore

final class EnrollmentCodes: Sendable {
    static let lifetimeMs: Int64 = 120_000
    private let keyBytes: [UInt8]
    /// Per user: the last creation time a code was made at, and how many were made then.
    private let made = Mutex<[Int64: (created: Int64, count: Int64)]>([:])

    init(storeKey: String) {
        keyBytes = Array(storeKey.utf8)
    }

    func make(user: Int64, now: Int64) -> (code: String, expiry: Int64) {
        let earlier = made.withLock { made -> Int64 in
            if made.count >= 10_000 { made = made.filter { $0.value.created >= now } }
            let count = made[user].map { $0.created == now ? $0.count + 1 : 0 } ?? 0
            made[user] = (now, count)
            return count
        }
        let expiry = now + Self.lifetimeMs - min(earlier, Self.lifetimeMs / 2)
        return ("\(now)_\(expiry)_\(mac(user: user, created: now, expiry: expiry))", expiry)
    }

    /// The code's expiry when it is one of ours, for this user, and not expired.
    func verify(_ code: String, user: Int64, now: Int64) -> Int64? {
        let parts = code.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, let created = Int64(parts[0]), let expiry = Int64(parts[1]),
              created <= now, now <= expiry, expiry - created <= Self.lifetimeMs else { return nil }
        return ConstantTime.equals(mac(user: user, created: created, expiry: expiry), String(parts[2])) ? expiry : nil
    }

    private func mac(user: Int64, created: Int64, expiry: Int64) -> String {
        Digest.hex(HMAC<SHA256>.authenticationCode(for: Array("\(user)_\(created)_\(expiry)".utf8), using: SymmetricKey(data: keyBytes)))
    }
}
