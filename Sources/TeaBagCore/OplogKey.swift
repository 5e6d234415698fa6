/// Validation of the `type` and `path` that key an oplog (SPEC §2.3).
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
        guard !path.isEmpty, !path.utf8.contains(where: isForbiddenInPath) else { return nil }
        var parts: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..":
                if parts.isEmpty { return nil }
                parts.removeLast()
            default: parts.append(component)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// C0 controls, DEL and the backslash.
    static func isForbiddenInPath(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == 0x7F || byte == 0x5C
    }
}
