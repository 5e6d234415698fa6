/// The shas of one path's held ops, in memory, so that "is this op already
/// held?" (docs/sync.md#oplog-rules rule 1) costs a hash probe instead of a database read.
///
/// Each sha is kept as a 128-bit fingerprint of its UTF-8 bytes (SipHash
/// under this process's random seed, and FNV-1a): 16 bytes a slot, at most
/// 80% full, about 25 bytes per held op. Two different shas share a
/// fingerprint with probability about 2^-128 per pair, and an attacker
/// cannot aim at one without the seed of the first half. Bytes, not `String` equality: two spellings
/// of one character are different shas (canonical equivalence is not
/// identity for identifiers).
struct ShaIndex: Sendable {
    private var slots: [Fingerprint]
    private(set) var count = 0

    struct Fingerprint: Equatable, Sendable {
        var a: UInt64
        var b: UInt64
        static let empty = Fingerprint(a: 0, b: 0)
    }

    init(capacity: Int = 0) {
        var size = 8
        while Double(size) * 0.8 < Double(capacity) { size *= 2 }
        slots = Array(repeating: .empty, count: size)
    }

    static func fingerprint(_ sha: String) -> Fingerprint {
        var text = sha
        return text.withUTF8 { bytes in
            var first = Hasher()
            first.combine(bytes: UnsafeRawBufferPointer(bytes))
            var second: UInt64 = 0xCBF2_9CE4_8422_2325
            for byte in bytes { second = (second ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
            let a = UInt64(bitPattern: Int64(first.finalize()))
            // Zero marks an empty slot.
            return Fingerprint(a: a == 0 ? 1 : a, b: second)
        }
    }

    func contains(_ sha: String) -> Bool { contains(Self.fingerprint(sha)) }

    func contains(_ fingerprint: Fingerprint) -> Bool {
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: fingerprint.a) & mask
        while true {
            let slot = slots[index]
            if slot == .empty { return false }
            if slot == fingerprint { return true }
            index = (index + 1) & mask
        }
    }

    /// Adds `sha`; false when it was there already.
    @discardableResult
    mutating func insert(_ sha: String) -> Bool { insert(Self.fingerprint(sha)) }

    @discardableResult
    mutating func insert(_ fingerprint: Fingerprint) -> Bool {
        if Double(count + 1) > Double(slots.count) * 0.8 { grow() }
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: fingerprint.a) & mask
        while true {
            let slot = slots[index]
            if slot == .empty {
                slots[index] = fingerprint
                count += 1
                return true
            }
            if slot == fingerprint { return false }
            index = (index + 1) & mask
        }
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: .empty, count: old.count * 2)
        count = 0
        for slot in old where slot != .empty { insert(slot) }
    }
}
