/// The master secret is kept only as a salted slow hash (docs/protocol.md#table):
/// PBKDF2-HMAC-SHA256, stored as `pbkdf2-sha256$<rounds>$<salt hex>$<hash hex>`.
import _CryptoExtras
import Crypto
import Foundation
import TeaBagCore

public enum MasterHash {
    public static let defaultRounds = 100_000

    public static func make(master: String, rounds: Int) throws -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        for i in salt.indices { salt[i] = UInt8.random(in: 0...255) }
        let hash = try derive(master: master, salt: salt, rounds: rounds)
        return "pbkdf2-sha256$\(rounds)$\(Digest.hex(salt))$\(hash)"
    }

    /// Whether `master` matches `stored`, in constant time.
    public static func verify(master: String, stored: String) -> Bool {
        let parts = stored.split(separator: "$")
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let rounds = Int(parts[1]), let salt = bytes(hex: parts[2]),
              let hash = try? derive(master: master, salt: salt, rounds: rounds) else { return false }
        return ConstantTime.equals(hash, String(parts[3]))
    }

    static func derive(master: String, salt: [UInt8], rounds: Int) throws -> String {
        let key = try KDF.Insecure.PBKDF2.deriveKey(from: Array(master.utf8), salt: salt, using: .sha256,
                                                   outputByteCount: 32, unsafeUncheckedRounds: rounds)
        return key.withUnsafeBytes { Digest.hex($0) }
    }

    static func bytes(hex: Substring) -> [UInt8]? {
        var out: [UInt8] = []
        var iterator = hex.makeIterator()
        while let high = iterator.next() {
            guard let low = iterator.next(), let byte = UInt8(String([high, low]), radix: 16) else { return nil }
            out.append(byte)
        }
        return out
    }
}
