/// Enrollment codes (docs/protocol.md#store, docs/protocol.md#enrollment): `<created_ms>_<expiry_ms>_<hmac>`,
/// valid two minutes, single use (ext), HMAC-SHA256 under the store key.
///
/// Two codes asked for one user in the same millisecond must differ (each
/// is single use): the first is as above, the k-th after it carries `k.`
/// before its HMAC, which covers k too (issue 14 §8). Codes are opaque to
/// clients and to the table, which hands them back as given.
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
        let expiry = now + Self.lifetimeMs
        let tag = earlier == 0 ? mac(user: user, created: now, expiry: expiry) : "\(earlier).\(mac(user: user, created: now, expiry: expiry, nth: earlier))"
        return ("\(now)_\(expiry)_\(tag)", expiry)
    }

    /// The code's expiry when it is one of ours, for this user, and not expired.
    func verify(_ code: String, user: Int64, now: Int64) -> Int64? {
        let parts = code.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, let created = Int64(parts[0]), let expiry = Int64(parts[1]),
              created <= now, now <= expiry, expiry - created <= Self.lifetimeMs else { return nil }
        let tag = parts[2].split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        if tag.count == 2 {
            guard let nth = Int64(tag[0]), nth > 0 else { return nil }
            return ConstantTime.equals(mac(user: user, created: created, expiry: expiry, nth: nth), String(tag[1])) ? expiry : nil
        }
        return ConstantTime.equals(mac(user: user, created: created, expiry: expiry), String(parts[2])) ? expiry : nil
    }

    private func mac(user: Int64, created: Int64, expiry: Int64, nth: Int64 = 0) -> String {
        let input = nth == 0 ? "\(user)_\(created)_\(expiry)" : "\(user)_\(created)_\(expiry)_\(nth)"
        return Digest.hex(HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: keyBytes)))
    }
}
