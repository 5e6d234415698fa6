/// Validation of the `type` and `path` that key an oplog (docs/protocol.md#store).
/// Both are bytes: compare them with `Bytewise` or key them with `ByteKey`,
/// never with `String` equality (canonical equivalence).
public enum OplogKey {
    /// 1–64 of `[A-Za-z0-9_-]`.
    public static func isValidType(_ type: String) -> Bool {
        let bytes = type.utf8
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
        }
    }

    /// A path normalized as a POSIX absolute path (`foo//bar/./` → `/foo/bar`),
    /// or nil when it is empty, holds a control character or a backslash, or
    /// a `..` leaves the root.
    ///
    /// Control characters (NUL, CR, LF…) and backslashes are refused so that
    /// a path stays one safe token wherever it is shown or mapped: a log
    /// line, a terminal, a file name on a client (`\` separates there on
    /// Windows, where `..\..` would climb).
    public static func normalizePath(_ path: String) -> String? {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, !bytes.contains(where: isForbiddenInPath) else { return nil }
        // Split on the byte "/": as Characters, "/" followed by a combining
        // mark (U+0338) is one grapheme and would not separate — POSIX and
        // the original server's path.posix.normalize split at every slash.
        var parts: [ArraySlice<UInt8>] = []
        for component in bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if component.elementsEqual([UInt8(ascii: ".")]) { continue }
            if component.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                if parts.isEmpty { return nil }
                parts.removeLast()
                continue
            }
            parts.append(component)
        }
        var normalized: [UInt8] = []
        normalized.reserveCapacity(bytes.count + 1)
        for part in parts {
            normalized.append(UInt8(ascii: "/"))
            normalized.append(contentsOf: part)
        }
        if normalized.isEmpty { normalized.append(UInt8(ascii: "/")) }
        // The slices are whole UTF-8 sequences: "/" never occurs inside one.
        return String(decoding: normalized, as: UTF8.self)
    }

    /// C0 controls, DEL and the backslash.
    static func isForbiddenInPath(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == 0x7F || byte == 0x5C
    }
}
